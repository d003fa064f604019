"""``known-faces visitors …`` and ``known-faces search IMAGE`` (DESIGN §9), registered into the
main CLI.

They act on the gallery of the data dir like the HTTP API does, through the same visitor
store (so a running service sees the change at its next look-up), and report errors the CLI
way: one line, exit status 2. Only ``search`` loads the models; the review commands read the
embedder's id and dimension from the catalogue.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import add_common, fraction, load_recognizer, open_gallery, print_json, read_input

if TYPE_CHECKING:
    from .store.visitors import Visitor, Visitors

API_BASE = "/api/v1"


def open_visitors(args: argparse.Namespace) -> Visitors:
    """The visitor store of the data dir, for the embedders the flags name (``--mode``)."""
    from .models.catalogue import embedder_spec, mode_embedders
    from .recognizer import impostor_stats
    from .store.visitors import DEFAULT_THRESHOLD, Visitors

    specs = mode_embedders(embedder_spec(args.embedder, args.embedder_preprocessing), args.mode)
    dims = {spec.id: spec.embedding_dim for spec in specs}
    if None in dims.values():  # a user's embedder of unknown dimension: ask the model
        return load_recognizer(args).visitors
    return Visitors(open_gallery(args), {m: d for m, d in dims.items() if d is not None},
                    DEFAULT_THRESHOLD, impostor_stats(tuple(dims)))


def line(visitor: Visitor) -> str:
    """One visitor on one line."""
    status = "ignored" if visitor.ignored else "pending"
    return (f"{visitor.label}  {status:7}  seen {visitor.seen:>3}×  first {visitor.first_seen}"
            f"  last {visitor.last_seen}  cameras {','.join(visitor.cameras) or '-'}")


def cmd_visitors(args: argparse.Namespace) -> int:
    """list | show | assign | ignore | unignore | merge | forget."""
    from .pipeline.quality import QualityGates
    from .publish import payloads
    from .store.visitors import enrollment_gate

    visitors = open_visitors(args)
    shown: Any = None
    if args.action == "list":
        found = visitors.listing(args.status)
        shown = [v.as_dict() for v in found]
        text = "\n".join(line(v) for v in found) or "no visitors"
    elif args.action == "show":
        found_one = visitors.get(args.visitor)
        sightings = visitors.sightings(args.visitor)
        shown = payloads.visitor_detail(found_one, sightings, API_BASE)
        text = "\n".join([line(found_one), *(
            f"  sighting {s.id}: {s.time} {s.camera} score "
            f"{'-' if s.score is None else f'{s.score:.3f}'}" for s in sightings)])
    elif args.action == "assign":
        done = visitors.assign(args.visitor, enrollment_gate(QualityGates()),
                               person=args.person, name=args.name)
        shown = payloads.assigned(done, visitors.gallery.person(done.person).as_dict())
        text = "\n".join([
            f"{args.visitor} → {done.person}{' (new person)' if done.created else ''}: "
            f"{len(done.faces)} face(s) enrolled, {done.moved} sighting(s) moved",
            *(f"  not enrolled: sighting {r.sighting}: {r.code}: {r.reason}"
              for r in done.refused)])
    elif args.action in ("ignore", "unignore"):
        changed = visitors.set_ignored(args.visitor, args.action == "ignore")
        shown, text = changed.as_dict(), line(changed)
    elif args.action == "merge":
        merged = visitors.merge(args.visitor, args.into)
        shown, text = merged.as_dict(), f"{args.visitor} merged into {line(merged)}"
    else:
        visitors.forget(args.visitor)
        shown, text = {"forgotten": args.visitor}, (
            f"{args.visitor}: forgotten (crops and vectors deleted)")
    if getattr(args, "json", False):
        print_json(shown)
    else:
        print(text)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Who in this photo was seen before: people, visitors, sightings."""
    from .publish import payloads
    from .store.visitors import DEFAULT_THRESHOLD

    image = read_input(args.image)
    recognizer = load_recognizer(args)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    found = recognizer.search(image, threshold)
    answer = payloads.search_answer(found, API_BASE)
    if args.json:
        print_json(answer)
        return 0
    if not answer["faces"]:
        print(f"{args.image}: no face good enough to search with")
    for number, face in enumerate(answer["faces"], start=1):
        print(f"face {number} at {face['box']}:")
        for person in face["people"]:
            print(f"  person {person['person']} ({person['name']}) {person['similarity']:.3f}")
        for visitor in face["visitors"]:
            print(f"  visitor {visitor['visitor']} {visitor['score']:.3f} seen "
                  f"{visitor['sightings']}× last {visitor['last_seen']}")
        for sighting in face["sightings"]:
            who = sighting["visitor"] or sighting["person"]
            print(f"  seen {sighting['time']} at {sighting['camera']} as {who} "
                  f"{sighting['score']:.3f}")
        if not (face["people"] or face["visitors"]):
            print("  never seen before")
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``visitors`` and ``search`` to the ``known-faces`` command tree."""
    visitors = commands.add_parser(
        "visitors", help="review unknown faces: list, show, assign, ignore, merge, forget",
        description="Unknown faces grouped into visitors (DESIGN §9).")
    visitors.set_defaults(handler=cmd_visitors)
    actions = visitors.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="visitors, last seen first")
    listing.add_argument("--status", choices=["pending", "ignored"])
    show = actions.add_parser("show", help="one visitor and its kept sightings")
    assign = actions.add_parser("assign", help="make a visitor a person (its good crops are "
                                "enrolled, its sightings become the person's)")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--person", metavar="SLUG", help="an enrolled person's slug")
    target.add_argument("--name", metavar="NAME", help="a new person's name")
    ignore = actions.add_parser("ignore", help="faces matching it are 'ignored', not 'unknown'")
    unignore = actions.add_parser("unignore", help="stop ignoring a visitor")
    merge = actions.add_parser("merge", help="merge a visitor into another one")
    forget = actions.add_parser("forget", help="delete a visitor, crops and vectors")
    for action in (show, assign, ignore, unignore, merge, forget):
        action.add_argument("visitor", metavar="VISITOR", help="a visitor id such as v_0001")
    merge.add_argument("into", metavar="INTO", help="the visitor to merge into")
    for action in (listing, show, assign, ignore, unignore, merge, forget):
        action.add_argument("--json", action="store_true")
        add_common(action)

    search = commands.add_parser(
        "search", help="was this person here before? (people, visitors, sightings)",
        description="Every face of IMAGE with the people, visitors and past sightings it "
                    "matches.")
    search.set_defaults(handler=cmd_search)
    search.add_argument("image", type=Path, metavar="IMAGE")
    search.add_argument("--threshold", type=fraction,
                        help="lowest score listed (default: the visitor threshold)")
    search.add_argument("--json", action="store_true")
    add_common(search)
