"""known-faces: local face recognition from the command line.

Subcommands: models, recognize, enroll, people, gallery, evaluate, bench, visitors, search (and
serve, token).

Each subcommand is a small function over the library; ``--json`` output uses the same field
names as the MQTT events so scripts can rely on it. Every error a user can cause (a usage
mistake, a missing or unreadable file, a bad image, an unknown person) is one line on stderr,
``known-faces: <code>: <message>``, and exit status 2; a command over several inputs reports each
bad one that way, still gives the results of the good ones, and exits 2 at the end. Nothing is
half-written.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .errors import EnrollmentRejected, InvalidName, KnownFacesError, StorageError, UnknownPerson
from .folders import images_in, people_photos
from .paths import default_cache_dir, default_data_dir, default_models_dir

if TYPE_CHECKING:
    from .pipeline.engine import Engine
    from .pipeline.match import MatchSettings
    from .recognizer import Recognizer
    from .store.gallery import Gallery, Person

Handler = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def print_json(data: Any) -> None:
    """JSON on stdout, UTF-8, one document."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def report_error(code: str, message: str) -> None:
    """The one error line every command prints (README, *Command line*)."""
    print(f"known-faces: {code}: {message}", file=sys.stderr)


def progress(items: Sequence[T], label: str) -> Iterable[T]:
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


class Failures:
    """Inputs that could not be used. Each is reported at once, as the one error line, so the
    good inputs of the same call still get their results; the exit status then says that
    something failed (2) instead of the traceback that used to lose everything."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: Path | str, error: KnownFacesError) -> dict[str, str]:
        """Report one bad input and remember it (also for ``--json`` summaries)."""
        report_error(error.code, f"{path}: {error.message}")
        item = {"image": str(path), "error": error.code, "message": error.message}
        self.items.append(item)
        return item

    def extend(self, items: Iterable[dict[str, str]]) -> None:
        """Report inputs a library function already collected as ``{"image", "error",
        "message"}``."""
        for item in items:
            self.add(item["image"], KnownFacesError(item["message"], code=item["error"]))

    def status(self, ok: int = 0) -> int:
        """2 when any input failed, else ``ok``."""
        return 2 if self.items else ok


def read_input(path: Path) -> bytes:
    """A file named on the command line; ``unreadable`` (with the OS's reason) otherwise."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KnownFacesError(exc.strerror or str(exc), code="unreadable") from exc


# -- shared options and objects ------------------------------------------------------------
def positive_int(text: str) -> int:
    """An argparse type: a whole number ≥ 1 (0 runs, threads or photos would only fail later,
    with a traceback)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of 1 or more")
    return value


def fraction(text: str) -> float:
    """An argparse type: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a share between 0 and 1")
    return value


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
    parser.add_argument("--threads", type=positive_int, default=2, help="ONNX Runtime threads")
    parser.add_argument("--mode", choices=("accurate", "fast"),
                        default=os.environ.get("KNOWN_FACES_MODE") or "accurate",
                        help="accurate: MobileFaceNet and dlib's ResNet fused (the default); "
                             "fast: MobileFaceNet only ($KNOWN_FACES_MODE)")
    parser.add_argument("--detector-size", type=positive_int, default=640,
                        help="long side snapshots are scaled to before detection")


def data_dir(args: argparse.Namespace) -> Path:
    """The data dir the user asked for, or the default."""
    return args.data_dir or default_data_dir()


def open_gallery(args: argparse.Namespace) -> Gallery:
    """The gallery of the data dir; a directory that cannot hold one (not writable, not a
    database) is the one-line ``storage_error`` rather than SQLite's traceback."""
    from .store.gallery import Gallery

    try:
        return Gallery.open(data_dir(args))
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the gallery in {data_dir(args)}: {exc}") from exc


def load_engine(args: argparse.Namespace) -> Engine:
    """The engine on the installed models."""
    from .models.catalogue import embedder_spec
    from .pipeline.engine import Engine

    return Engine.load(args.models_dir, threads=args.threads, detector_size=args.detector_size,
                       embedder=embedder_spec(args.embedder, args.embedder_preprocessing),
                       mode=args.mode)


def match_settings(args: argparse.Namespace) -> MatchSettings:
    """Threshold and margin from the flags (an explicit 0 included) over the defaults; a
    threshold under the safe floor is honoured but said to be unsafe, once, on stderr."""
    from .evaluate import SAFE_THRESHOLD_FLOOR
    from .pipeline.match import MatchSettings

    defaults = MatchSettings()
    threshold = getattr(args, "threshold", None)
    margin = getattr(args, "margin", None)
    if threshold is not None and threshold < SAFE_THRESHOLD_FLOOR:
        print(f"known-faces: warning: threshold {threshold:g} is under the safe floor "
              f"{SAFE_THRESHOLD_FLOOR:g}: lookalike strangers may be named (README, "
              "Calibration)", file=sys.stderr)
    return MatchSettings(threshold=defaults.threshold if threshold is None else threshold,
                         margin=defaults.margin if margin is None else margin)


def load_recognizer(args: argparse.Namespace) -> Recognizer:
    """Engine + the gallery in the data dir, with the thresholds from the flags."""
    from .recognizer import Recognizer

    return Recognizer(load_engine(args), open_gallery(args), match_settings(args),
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
def no_images() -> KnownFacesError:
    """The failure of a directory given as an image that holds none."""
    return KnownFacesError("no .jpg, .jpeg, .png or .webp image in this directory",
                           code="no_images")


def expand_images(arguments: Sequence[Path]) -> list[Path]:
    """The IMAGE arguments in order, a directory standing for the images directly inside it
    (one without images stays, to be reported in its place)."""
    images: list[Path] = []
    for path in arguments:
        inside = images_in(path) if path.is_dir() else []
        images.extend(inside or [path])
    return images


def annotation_targets(out: Path, arguments: Sequence[Path], images: Sequence[Path]
                       ) -> dict[Path, Path]:
    """Where ``--annotate OUT`` writes each image: OUT itself when one image file was named
    (and OUT is not a directory); otherwise OUT is a directory, created if needed, holding
    each annotated image under the input's file name (``-2``, ``-3`` … when names repeat)."""
    if len(arguments) == 1 and len(images) == 1 and not arguments[0].is_dir() and not out.is_dir():
        return {images[0]: out}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KnownFacesError(f"cannot use {out} as the directory for annotated images "
                              f"({exc.strerror or exc})", code="unwritable") from exc
    targets: dict[Path, Path] = {}
    taken: set[str] = set()
    for image in (path for path in images if not path.is_dir()):
        name, n = image.name, 1
        while name.casefold() in taken:
            n += 1
            name = f"{image.stem}-{n}{image.suffix}"
        taken.add(name.casefold())
        targets[image] = out / name
    return targets


def cmd_recognize(args: argparse.Namespace) -> int:
    """Recognise the faces of each image; bad images are reported, good ones still printed."""
    from .pipeline.annotate import annotate_image
    from .publish import payloads
    from .video_cli import recognize_video, wants_video

    if wants_video(args.images):
        return recognize_video(args, load_recognizer(args))
    recognizer = load_recognizer(args)
    failures = Failures()
    images = expand_images(args.images)
    targets = annotation_targets(args.annotate, args.images, images) if args.annotate else {}
    outputs = []
    for path in images:
        if path.is_dir():
            failures.add(path, no_images())
            continue
        try:
            data = read_input(path)
            result = recognizer.recognize(data, camera=args.camera, source="cli")
        except KnownFacesError as exc:
            failures.add(path, exc)
            continue
        outputs.append({"image": str(path), **payloads.recognize_answer(result)})
        if path in targets:
            try:
                annotate_image(data, result, targets[path])
            except KnownFacesError as exc:
                failures.add(path, exc)
    if args.json:
        print_json(outputs)
        return failures.status()
    for output in outputs:
        print(f"{output['image']}: {output['face_count']} face(s), {output['latency_ms']} ms")
        for face in output["faces"]:
            who = face["name"] if face["known"] else face["status"]
            similarity = "" if face["similarity"] is None else f"{face['similarity']:.3f}"
            guess = face["second"]["name"] if face["second"] and not face["known"] else ""
            print(f"  {who:24} {similarity:>6}  box={face['box']}  "
                  f"{face['face_px']}px  {'(best guess ' + guess + ')' if guess else ''}")
    return failures.status()


# -- enroll ----------------------------------------------------------------------------------
def enrollment_jobs(args: argparse.Namespace) -> list[tuple[str, list[Path]]]:
    """(name, images) pairs from ``NAME IMAGE…`` (a directory standing for its images, as
    for ``recognize``) or ``--folder DIR`` (either layout of ``folders``); a bad NAME is
    refused before any photo is looked at."""
    from .store.names import clean_name

    if args.folder:
        if args.name or args.images:
            raise KnownFacesError("give either --folder or NAME IMAGE…", code="invalid_request")
        return list(people_photos(args.folder).items())
    if not args.name or not args.images:
        raise KnownFacesError("give NAME and at least one IMAGE (or --folder DIR)",
                              code="invalid_request")
    return [(clean_name(args.name), expand_images(args.images))]


def cmd_enroll(args: argparse.Namespace) -> int:
    """Enroll photos per person with the atomic enroll-by-name, so a person exists only once
    a face of theirs was accepted; photos refused by the gates (several faces, too small …)
    are listed with the reason and skipped, unreadable or broken files are input failures.

    Exit status: 2 if any input failed, 1 if nothing at all was enrolled, else 0."""
    recognizer = load_recognizer(args)
    jobs = enrollment_jobs(args)
    flat = [(name, image) for name, images in jobs for image in images]
    failures = Failures()
    summary: dict[str, dict[str, Any]] = {
        name: {"name": name, "person": None, "created": False, "enrolled": 0, "rejected": [],
               "failed": []}
        for name, _ in jobs
    }
    for name, image in progress(flat, "enrolling"):
        entry = summary[name]
        if image.is_dir():
            entry["failed"].append(failures.add(image, no_images()))
            continue
        try:
            done = recognizer.enroll_by_name_checked(name, read_input(image),
                                                     source=f"cli:{image.name}",
                                                     force=args.force)
        except EnrollmentRejected as exc:
            entry["rejected"].append({"image": str(image), "error": exc.code,
                                      "message": exc.message})
            continue
        except StorageError:
            raise  # the gallery cannot be written: every further photo would fail the same way
        except KnownFacesError as exc:
            entry["failed"].append(failures.add(image, exc))
            continue
        entry["person"] = done.person.slug
        entry["created"] = entry["created"] or done.created
        entry["enrolled"] += 1
        if done.warning:
            entry.setdefault("warnings", []).append({"image": str(image), "warning": done.warning})
    if args.json:
        print_json(list(summary.values()))
    else:
        for entry in summary.values():
            print(f"{entry['name']}: {entry['enrolled']} photo(s) enrolled"
                  + (f" as '{entry['person']}'" if entry["person"]
                     else ", no person created or changed"))
            for rejected in entry["rejected"]:
                print(f"  rejected {rejected['image']}: {rejected['error']}: "
                      f"{rejected['message']}")
            for warned in entry.get("warnings", []):
                print(f"  added {warned['image']} (forced): warning: {warned['warning']}")
    accepted = sum(e["enrolled"] for e in summary.values())
    return failures.status(0 if accepted else 1)


# -- people ----------------------------------------------------------------------------------
def resolve_person(gallery: Gallery, key: str) -> Person:
    """The person a user means: ``key`` is a slug or a display name (case-insensitive), as
    ``people list`` shows both; a key that is one person's slug and another's name is refused
    rather than guessed."""
    try:
        by_slug: Person | None = gallery.person(key)
    except UnknownPerson:
        by_slug = None
    try:
        by_name = gallery.find_by_name(key)
    except InvalidName:
        by_name = None
    if by_slug and by_name and by_slug.slug != by_name.slug:
        raise KnownFacesError(f"'{key}' is the slug of '{by_slug.name}' and the name of "
                              f"'{by_name.slug}'; give the slug", code="ambiguous_person")
    person = by_slug or by_name
    if person is None:
        raise UnknownPerson(f"nobody is enrolled as '{key}' (neither a slug nor a name; "
                            "see 'known-faces people list')")
    return person


def cmd_people(args: argparse.Namespace) -> int:
    """list | rename | forget."""
    gallery = open_gallery(args)
    if args.action == "rename":
        person = gallery.rename_person(resolve_person(gallery, args.person).slug, args.name)
        print(f"{person.slug}: now '{person.name}'")
    elif args.action == "forget":
        person = resolve_person(gallery, args.person)
        gallery.delete_person(person.slug)
        print(f"{person.slug} ('{person.name}'): forgotten (crops and vectors deleted)")
    elif args.json:
        print_json([p.as_dict() for p in gallery.people()])
    else:
        for person in gallery.people():
            print(f"{person.slug:24} {person.name:32} {person.face_count} face(s)")
    return 0


# -- gallery ---------------------------------------------------------------------------------
def export_to(gallery: Gallery, target: Path) -> tuple[int, int]:
    """Export into a private temporary file beside ``target``, renamed over it only when
    complete: a failed export never leaves a truncated archive, and the biometric data is
    never readable by other users while it is written."""
    from .store.archive import export_archive

    part: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".part", delete=False) as handle:
            part = Path(handle.name)
            counts = export_archive(gallery, handle)
        part.replace(target)
    except OSError as exc:
        raise KnownFacesError(f"cannot write {target}: {exc.strerror or exc}",
                              code="unwritable") from exc
    finally:
        if part is not None:  # gone after the rename; left over only when the export failed
            part.unlink(missing_ok=True)
    return counts


def cmd_gallery(args: argparse.Namespace) -> int:
    """export | import."""
    from .store.archive import import_archive

    gallery = open_gallery(args)
    if args.action == "export":
        people, faces = export_to(gallery, args.archive)
        print(f"exported {people} people, {faces} faces to {args.archive}")
        return 0
    try:
        handle = args.archive.open("rb")
    except OSError as exc:
        raise KnownFacesError(f"cannot read {args.archive}: {exc.strerror or exc}",
                              code="unreadable") from exc
    with handle:
        people, faces = import_archive(gallery, handle,
                                       mode="replace" if args.replace else "merge")
    print(f"imported {people} new people, {faces} faces from {args.archive}")
    return 0


# -- evaluate and bench ----------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Accuracy on a folder of people, with strangers held out; warnings on stderr."""
    from .evaluate import evaluate_folder, format_report

    report = evaluate_folder(load_engine(args), args.folder, settings=match_settings(args),
                             enroll=args.enroll, strangers=args.strangers, seed=args.seed,
                             histogram=args.histogram)
    if args.json:
        print_json(report)
    else:
        print(format_report(report), flush=True)
    failures = Failures()
    failures.extend(report["unreadable_images"])
    for warning in report["warnings"]:
        print(f"known-faces: warning: {warning}", file=sys.stderr)
    return failures.status()


def cmd_bench(args: argparse.Namespace) -> int:
    """Per-stage speed against the floor on the user's own photos."""
    from .bench import format_report, run_bench

    report = run_bench(load_engine(args), args.photos, repeat=args.repeat)
    failures = Failures()
    failures.extend(report["unreadable_images"])
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return failures.status()


# -- parser ----------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported like every other error: one line, status 2
    (argparse's own form is the whole usage text plus a line in another format)."""

    def error(self, message: str) -> NoReturn:
        """Print the one line and exit 2."""
        self.exit(2, f"known-faces: usage: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = Parser(prog="known-faces", description=(__doc__ or "").splitlines()[0])
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

    recognize = command("recognize", cmd_recognize,
                        "recognise the faces in images (a directory stands for its images) "
                        "or in one video (one line per track)")
    recognize.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    recognize.add_argument("--camera", default="cli", help="camera name reported in results")
    recognize.add_argument("--threshold", type=float, help="match threshold override")
    recognize.add_argument("--margin", type=float, help="margin override")
    recognize.add_argument("--annotate", type=Path, metavar="OUT",
                           help="draw boxes, names and similarities: into the file OUT for one "
                                "image, else into the directory OUT (created), one file per "
                                "image under its own name")
    recognize.add_argument("--json", action="store_true")

    enroll = command("enroll", cmd_enroll, "enroll photos of a person (or a folder of people)")
    enroll.add_argument("name", nargs="?", metavar="NAME")
    enroll.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    enroll.add_argument("--folder", type=Path, metavar="DIR",
                        help="DIR/<name>/*.jpg (one subfolder per person) or DIR/<Name>_<N>.jpg "
                             "(Bob_Smith_1.jpg is 'Bob Smith'); photos with several faces "
                             "are skipped")
    enroll.add_argument("--json", action="store_true")
    enroll.add_argument("--force", action="store_true",
                        help="add photos even if they do not resemble the person's other photos "
                             "(refused otherwise as does_not_match_person: likely someone else)")

    people = command("people", cmd_people, "list, rename or forget enrolled people", leaf=False)
    people_actions = people.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = people_actions.add_parser("list", help="everybody enrolled")
    listing.add_argument("--json", action="store_true")
    rename = people_actions.add_parser("rename", help="change a person's display name "
                                       "(the slug stays)")
    rename.add_argument("person", metavar="PERSON", help="slug or display name")
    rename.add_argument("name", metavar="NEW_NAME")
    forget = people_actions.add_parser("forget", help="delete a person, crops and vectors")
    forget.add_argument("person", metavar="PERSON", help="slug or display name")
    for action in (listing, rename, forget):
        add_common(action)

    gallery = command("gallery", cmd_gallery, "export or import the whole gallery")
    gallery.add_argument("action", choices=["export", "import"])
    gallery.add_argument("archive", type=Path, metavar="ARCHIVE.zip")
    gallery.add_argument("--replace", action="store_true",
                         help="import: replace the gallery instead of merging")

    evaluate = command("evaluate", cmd_evaluate,
                       "measure accuracy on DIR/<person>/*.jpg (or DIR/<Name>_<N>.jpg) with "
                       "strangers held out")
    evaluate.add_argument("folder", type=Path, metavar="DIR")
    evaluate.add_argument("--enroll", type=positive_int, default=1, metavar="K",
                          help="photos enrolled per person (the first K)")
    evaluate.add_argument("--strangers", type=fraction, default=0.3, metavar="FRACTION",
                          help="share of people held out as strangers")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--threshold", type=float, help="threshold to evaluate")
    evaluate.add_argument("--margin", type=float, help="margin to evaluate")
    evaluate.add_argument("--histogram", "--plot", type=Path, metavar="OUT.png", default=None,
                          help="also write the genuine vs impostor histogram to OUT.png")
    evaluate.add_argument("--json", action="store_true")

    bench = command("bench", cmd_bench,
                    "time the pipeline against its floor on your photos "
                    "(DIR/<person>/*.jpg or DIR/<Name>_<N>.jpg)")
    bench.add_argument("--photos", type=Path, required=True, metavar="DIR",
                       help="a folder of photos: DIR/<person>/*.jpg or DIR/<Name>_<N>.jpg")
    bench.add_argument("--repeat", type=positive_int, default=3, help="runs per photo")
    bench.add_argument("--json", action="store_true")

    from .video_cli import add_watch

    add_watch(command, load_recognizer)

    from .visitors_cli import register as register_visitors

    register_visitors(commands)
    if importlib.util.find_spec("known_faces.service.cli") is not None:
        from .service.cli import register

        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``known-faces`` script."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KnownFacesError as exc:
        report_error(exc.code, exc.message)
        return 2
    except OSError as exc:  # a path the user gave (data dir, models dir, folder) is unusable
        where = f"{exc.filename}: " if exc.filename else ""
        report_error("unreadable" if isinstance(exc, FileNotFoundError) else "io_error",
                     f"{where}{exc.strerror or exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
