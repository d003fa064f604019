"""``known-faces serve`` and ``known-faces token``, registered into the main CLI.

Flags default to None so that an unset flag never overrides the config file or environment.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, Settings, load_settings
from .identity import ensure_token

if TYPE_CHECKING:
    from .app import Service


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="YAML options file (default: the Supervisor's /data/options.json "
                             "when running as an add-on)")
    parser.add_argument("--data-dir", type=Path, help="gallery, token and instance id")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve`` and ``token`` to the ``known-faces`` command tree."""
    serve = commands.add_parser(
        "serve", help="run the service (MQTT + HTTP API)",
        description="Run the service. Options come from --config, KNOWN_FACES_<OPTION> "
                    "environment variables and these flags, later ones winning.")
    _add_config_flags(serve)
    serve.add_argument("--models-dir", type=Path, help="installed models")
    serve.add_argument("--mqtt-host", help="broker host (default 127.0.0.1 or the Supervisor's)")
    serve.add_argument("--mqtt-port", type=int, help="broker port (default 1883)")
    serve.add_argument("--http-host", help="HTTP API address (default 0.0.0.0)")
    serve.add_argument("--http-port", type=int, help="HTTP API port (default 8066)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=cmd_serve)

    token = commands.add_parser("token", help="print the HTTP API token",
                                description="Print the HTTP API bearer token (made if missing).")
    _add_config_flags(token)
    token.add_argument("--rotate", action="store_true",
                       help="replace the token (restart the service to use the new one)")
    token.set_defaults(handler=cmd_token)


def _settings(args: argparse.Namespace) -> Settings | None:
    overrides = {key: getattr(args, key, None) for key in
                 ("data_dir", "models_dir", "mqtt_host", "mqtt_port", "http_host", "http_port",
                  "log_level")}
    try:
        return load_settings(args.config, overrides)
    except ConfigError as err:
        print(f"known-faces {args.command}: {err}", file=sys.stderr)
        return None


def cmd_token(args: argparse.Namespace) -> int:
    """Print the token; a new one with ``--rotate``."""
    settings = _settings(args)
    if settings is None:
        return 2
    token, _created = ensure_token(settings.data_dir, rotate=args.rotate)
    print(token)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the models, then serve until SIGTERM or Ctrl-C."""
    settings = _settings(args)
    if settings is None:
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..models.catalogue import embedder_spec
    from ..pipeline.engine import Engine
    from ..pipeline.quality import QualityGates
    from .app import Service
    from .memory import release_free_heap, return_large_buffers
    from .supervisor import Supervisor

    return_large_buffers()
    engine = Engine.load(
        settings.models_dir, threads=settings.threads, detector_size=settings.detector_size,
        gates=QualityGates(min_face_px=settings.min_face_px,
                           min_detection_score=settings.min_detection_score),
        embedder=embedder_spec(settings.embedder_file, settings.embedder_preprocessing),
        mode=settings.mode,
    )
    release_free_heap()
    service = Service(settings, engine, supervisor=Supervisor.from_environment())
    asyncio.run(_serve(service))
    return 0


async def _serve(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)
