"""known-faces: local face recognition from the command line.

Subcommands: models, recognize, enroll, people, gallery, evaluate, bench (and serve, token).

Each subcommand is a small function over the library; ``--json`` output uses the same field
names as the MQTT events so scripts can rely on it. Errors a user can cause print one line and
exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import KnownFacesError
from .paths import default_cache_dir, default_data_dir, default_models_dir

Handler = Callable[[argparse.Namespace], int]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def print_json(data: Any) -> None:
    """JSON on stdout, UTF-8, one document."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def progress(items: Sequence[Any], label: str) -> Iterable[Any]:
    """Yield items while drawing a one-line progress bar on stderr (only on a terminal)."""
    total = len(items)
    for done, item in enumerate(items, start=1):
        yield item
        if sys.stderr.isatty():
            filled = int(30 * done / max(total, 1))
            bar = "#" * filled + "." * (30 - filled)
            sys.stderr.write(f"\r{label} [{bar}] {done}/{total}")
            sys.stderr.flush()
    if sys.stderr.isatty() and total:
        sys.stderr.write("\n")


# -- shared options and objects ------------------------------------------------------------
def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every command takes."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="gallery directory (default: $KNOWN_FACES_DATA_DIR or "
                             f"{default_data_dir()})")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help=f"model directory (default: $KNOWN_FACES_MODELS_DIR or "
                             f"{default_models_dir()})")
    parser.add_argument("--embedder", type=Path, metavar="FILE",
                        default=os.environ.get("KNOWN_FACES_EMBEDDER_FILE") or None,
                        help="your own ArcFace-style 112×112 ONNX embedder instead of "
                             "MobileFaceNet ($KNOWN_FACES_EMBEDDER_FILE; see models/README.md)")
    parser.add_argument("--embedder-preprocessing", metavar="CHANNELS,MEAN,STD",
                        default=os.environ.get("KNOWN_FACES_EMBEDDER_PREPROCESSING") or None,
                        help="what --embedder expects, e.g. RGB,127.5,128 (the default) or "
                             "BGR,127.5,127.5 ($KNOWN_FACES_EMBEDDER_PREPROCESSING)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    parser.add_argument("--detector-size", type=int, default=640,
                        help="long side snapshots are scaled to before detection")


def data_dir(args: argparse.Namespace) -> Path:
    """The data dir the user asked for, or the default."""
    return args.data_dir or default_data_dir()


def load_engine(args: argparse.Namespace):
    """The engine on the installed models."""
    from .models.catalogue import embedder_spec
    from .pipeline.engine import Engine

    return Engine.load(args.models_dir, threads=args.threads, detector_size=args.detector_size,
                       embedder=embedder_spec(args.embedder, args.embedder_preprocessing))


def load_recognizer(args: argparse.Namespace):
    """Engine + the gallery in the data dir, with the thresholds from the flags."""
    from .pipeline.match import MatchSettings
    from .recognizer import Recognizer
    from .store.gallery import Gallery

    defaults = MatchSettings()
    settings = MatchSettings(
        threshold=getattr(args, "threshold", None) or defaults.threshold,
        margin=defaults.margin if getattr(args, "margin", None) is None else args.margin,
    )
    return Recognizer(load_engine(args), Gallery.open(data_dir(args)), settings,
                      keep_unknown=False)


# -- models ----------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    """install | verify | list."""
    from .models.catalogue import MODELS
    from .models.install import ModelInstaller

    models_dir = args.models_dir or default_models_dir()
    installer = ModelInstaller(models_dir, args.cache_dir or default_cache_dir(),
                               log=lambda line: print(line, file=sys.stderr))
    if args.action == "install":
        installer.install(force=args.force)
        return 0
    if args.action == "verify":
        statuses = installer.verify()
        for status in statuses:
            print(f"{status.spec.id:22} {'ok' if status.ok else 'FAILED':7} {status.detail}")
        return 0 if all(s.ok for s in statuses) else 1
    rows = [
        {"id": m.id, "role": m.role, "file": str(models_dir / m.file),
         "installed": (models_dir / m.file).is_file(), "package": m.package, "licence": m.licence}
        for m in MODELS
    ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            state = "installed" if row["installed"] else "missing"
            print(f"{row['id']:22} {row['role']:9} {state:10} {row['package']}  ({row['licence']})")
    return 0


# -- recognize -------------------------------------------------------------------------------
def cmd_recognize(args: argparse.Namespace) -> int:
    """Recognise the faces of each image."""
    from .publish import payloads

    recognizer = load_recognizer(args)
    outputs = []
    for path in args.images:
        result = recognizer.recognize(path.read_bytes(), camera=args.camera, source="cli")
        outputs.append({"image": str(path), **payloads.recognize_answer(result)})
        if args.annotate:
            from .pipeline.annotate import annotate_image

            target = annotated_path(args.annotate, path, len(args.images))
            annotate_image(path.read_bytes(), result, target)
    if args.json:
        print_json(outputs)
        return 0
    for output in outputs:
        print(f"{output['image']}: {output['face_count']} face(s), {output['latency_ms']} ms")
        for face in output["faces"]:
            who = face["name"] if face["known"] else face["status"]
            similarity = "" if face["similarity"] is None else f"{face['similarity']:.3f}"
            guess = face["second"]["name"] if face["second"] and not face["known"] else ""
            print(f"  {who:24} {similarity:>6}  box={face['box']}  "
                  f"{face['face_px']}px  {'(best guess ' + guess + ')' if guess else ''}")
    return 0


def annotated_path(target: Path, image: Path, count: int) -> Path:
    """One annotated file, or one per image beside ``target`` when several were given."""
    if count == 1:
        return target
    return target.with_name(f"{target.stem}-{image.stem}{target.suffix or '.jpg'}")


# -- enroll ----------------------------------------------------------------------------------
def enrollment_jobs(args: argparse.Namespace) -> list[tuple[str, list[Path]]]:
    """(name, images) pairs from ``NAME IMAGE…`` or ``--folder DIR``."""
    if args.folder:
        if args.name or args.images:
            raise KnownFacesError("give either --folder or NAME IMAGE…", code="invalid_request")
        return [
            (sub.name, sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
            for sub in sorted(args.folder.iterdir()) if sub.is_dir()
        ]
    if not args.name or not args.images:
        raise KnownFacesError("give NAME and at least one IMAGE (or --folder DIR)",
                              code="invalid_request")
    return [(args.name, args.images)]


def cmd_enroll(args: argparse.Namespace) -> int:
    """Enroll photos per person; print one line per rejected photo with its reason."""
    recognizer = load_recognizer(args)
    gallery = recognizer.gallery
    jobs = enrollment_jobs(args)
    flat = [(name, image) for name, images in jobs for image in images]
    summary: dict[str, dict[str, Any]] = {}
    for name, image in progress(flat, "enrolling"):
        entry = summary.setdefault(name, {"name": name, "enrolled": 0, "rejected": []})
        try:
            person = gallery.find_by_name(name) or gallery.create_person(name)
            entry["person"] = person.slug
            recognizer.enroll(person.slug, image.read_bytes(), source=f"cli:{image.name}")
            entry["enrolled"] += 1
        except OSError as exc:
            entry["rejected"].append({"image": str(image), "error": "unreadable",
                                      "message": exc.strerror or str(exc)})
        except KnownFacesError as exc:
            entry["rejected"].append({"image": str(image), "error": exc.code,
                                      "message": exc.message})
    if args.json:
        print_json(list(summary.values()))
    else:
        for entry in summary.values():
            print(f"{entry['name']}: {entry['enrolled']} photo(s) enrolled")
            for rejected in entry["rejected"]:
                print(f"  rejected {rejected['image']}: {rejected['error']}: "
                      f"{rejected['message']}")
    accepted = sum(e["enrolled"] for e in summary.values())
    return 0 if accepted else 1


# -- people ----------------------------------------------------------------------------------
def cmd_people(args: argparse.Namespace) -> int:
    """list | rename | forget."""
    from .store.gallery import Gallery

    gallery = Gallery.open(data_dir(args))
    if args.action == "rename":
        person = gallery.rename_person(args.person, args.name)
        print(f"{person.slug}: now '{person.name}'")
    elif args.action == "forget":
        gallery.delete_person(args.person)
        print(f"{args.person}: forgotten (crops and vectors deleted)")
    elif args.json:
        print_json([p.as_dict() for p in gallery.people()])
    else:
        for person in gallery.people():
            print(f"{person.slug:24} {person.name:32} {person.face_count} face(s)")
    return 0


# -- gallery ---------------------------------------------------------------------------------
def cmd_gallery(args: argparse.Namespace) -> int:
    """export | import."""
    from .store.archive import export_archive, import_archive
    from .store.gallery import Gallery

    gallery = Gallery.open(data_dir(args))
    if args.action == "export":
        people, faces = export_archive(gallery, args.archive)
        print(f"exported {people} people, {faces} faces to {args.archive}")
    else:
        try:
            with args.archive.open("rb") as handle:
                people, faces = import_archive(gallery, handle,
                                               mode="replace" if args.replace else "merge")
        except OSError as exc:
            raise KnownFacesError(f"cannot read {args.archive}: {exc.strerror}",
                                  code="unreadable") from exc
        print(f"imported {people} new people, {faces} faces from {args.archive}")
    return 0


# -- evaluate and bench ----------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Accuracy on a folder of people, with strangers held out."""
    from .evaluate import evaluate_folder, format_report
    from .pipeline.match import MatchSettings

    defaults = MatchSettings()
    settings = MatchSettings(args.threshold or defaults.threshold,
                             defaults.margin if args.margin is None else args.margin)
    report = evaluate_folder(load_engine(args), args.folder, settings=settings,
                             enroll=args.enroll, strangers=args.strangers, seed=args.seed,
                             plot=args.plot)
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Per-stage speed, floor, matching scale, RSS, and face_recognition side by side."""
    from .bench import format_table, run_bench

    report = run_bench(load_engine(args), args.photos, repeat=args.repeat)
    if args.json:
        print_json(report)
    else:
        print(format_table(report))
    return 0


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="known-faces", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str,
                leaf: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if leaf:
            add_common(sub)
        sub.set_defaults(handler=handler)
        return sub

    models = command("models", cmd_models, "install, verify or list the pinned models")
    models.add_argument("action", choices=["install", "verify", "list"])
    models.add_argument("--cache-dir", type=Path, default=None,
                        help="downloads and tools (default: $KNOWN_FACES_CACHE_DIR or "
                             f"{default_cache_dir()})")
    models.add_argument("--force", action="store_true", help="reinstall even if verified")
    models.add_argument("--json", action="store_true")

    recognize = command("recognize", cmd_recognize, "recognise the faces in images")
    recognize.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    recognize.add_argument("--camera", default="cli", help="camera name reported in results")
    recognize.add_argument("--threshold", type=float, help="match threshold override")
    recognize.add_argument("--margin", type=float, help="margin override")
    recognize.add_argument("--annotate", type=Path, metavar="OUT.jpg",
                           help="draw boxes, names and similarities into OUT.jpg")
    recognize.add_argument("--json", action="store_true")

    enroll = command("enroll", cmd_enroll, "enroll photos of a person (or a folder of people)")
    enroll.add_argument("name", nargs="?", metavar="NAME")
    enroll.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    enroll.add_argument("--folder", type=Path, metavar="DIR",
                        help="one subfolder per person, named after them")
    enroll.add_argument("--json", action="store_true")

    people = command("people", cmd_people, "list, rename or forget enrolled people", leaf=False)
    people_actions = people.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = people_actions.add_parser("list", help="everybody enrolled")
    listing.add_argument("--json", action="store_true")
    rename = people_actions.add_parser("rename", help="change a person's display name "
                                       "(the slug stays)")
    rename.add_argument("person", metavar="SLUG")
    rename.add_argument("name", metavar="NEW_NAME")
    forget = people_actions.add_parser("forget", help="delete a person, crops and vectors")
    forget.add_argument("person", metavar="SLUG")
    for action in (listing, rename, forget):
        add_common(action)

    gallery = command("gallery", cmd_gallery, "export or import the whole gallery")
    gallery.add_argument("action", choices=["export", "import"])
    gallery.add_argument("archive", type=Path, metavar="ARCHIVE.zip")
    gallery.add_argument("--replace", action="store_true",
                         help="import: replace the gallery instead of merging")

    evaluate = command("evaluate", cmd_evaluate,
                       "measure accuracy on DIR/<person>/*.jpg with strangers held out")
    evaluate.add_argument("folder", type=Path, metavar="DIR")
    evaluate.add_argument("--enroll", type=int, default=1, metavar="K",
                          help="photos enrolled per person (the first K)")
    evaluate.add_argument("--strangers", type=float, default=0.3, metavar="FRACTION",
                          help="share of people held out as strangers")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--threshold", type=float, help="threshold to evaluate")
    evaluate.add_argument("--margin", type=float, help="margin to evaluate")
    evaluate.add_argument("--plot", type=Path, metavar="OUT.png",
                          help="genuine vs impostor histogram (default: evaluate.png)",
                          default=Path("evaluate.png"))
    evaluate.add_argument("--json", action="store_true")

    bench = command("bench", cmd_bench, "benchmark the pipeline against its floor")
    bench.add_argument("--photos", type=Path, default=None, metavar="DIR",
                       help="photos laid out like ../shared/data/faces (the default)")
    bench.add_argument("--repeat", type=int, default=15, help="runs per measurement")
    bench.add_argument("--json", action="store_true")

    if importlib.util.find_spec("known_faces.service.cli") is not None:
        from .service.cli import register

        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``known-faces`` script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KnownFacesError as exc:
        print(f"known-faces: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
