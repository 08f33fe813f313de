"""Scanner benchmark: prints figures, asserts nothing.

  python bench/scan.py [--messages N] [--passes P] [--plain | --html]
  python bench/scan.py --sizes [CORPUS_DIR]

Scanner.scan in this process (one core, interpreter start excluded), after
a warm-up pass, P passes over N messages. Each message's time is its median
over the passes; printed: messages/s (from the median pass), the
per-message median and p99, and the median of each shape, with how many
copies were held (there should be none: the mail is clean). The messages
are a school's day of mail (bench/mix.py, the proportions printed);
``--plain`` scans bench/relay.py's ~10 KB text letters instead, ``--html``
the same letters as multipart/alternative.

``--sizes`` prints, instead:

* throughput of Scanner.scan over the dev corpus, median of 5 passes;
* cost per MB: a 50 KB text message (baseline), a 5 MB text body and a 20 MB
  message with attachments; ratio of each to the baseline;
* cost per MB of varied prose by size (50 KB to 5 MB), generated with a fixed
  seed from the communications policy's words, with quoted replies,
  attributions, signatures, links, addresses and numbers as real threads have
  (one repeated paragraph hides costs that grow with the text's variety);
* pathological inputs: time and verdict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.mix import SHAPES, day_of_mail, proportions  # noqa: E402
from bench.relay import messages as letters  # noqa: E402
from gateway.config import load_config  # noqa: E402
from gateway.judge.pool import ScanPool  # noqa: E402
from gateway.judge.scan import Scanner  # noqa: E402
from gateway.mail import Verdict  # noqa: E402

PARENT = "parent.one@gmail.com"


def message(body: str, attachments=()) -> bytes:
    m = EmailMessage()
    m["From"] = "t@heartofengland.example"
    m["To"] = PARENT
    m["Subject"] = "bench"
    m.set_content(body)
    for name, data in attachments:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(m)


def varied_prose(size: int, seed: int = 1) -> str:
    """Text like a long mailing-list thread: never the same paragraph twice."""
    import random
    import re

    words = re.findall(
        r"[A-Za-z']+", (ROOT.parent / "shared" / "policy" / "communications-policy.txt").read_text()
    )
    extras = [
        "9.30am",
        "£12",
        "Year 10",
        "room 14",
        "07/12",
        "https://lists.example.org/archive/123.html",
        "j.smith@lists.example.org",
        "v2.3.1",
        "(see above)",
        "e.g.",
        "12:45",
        "#4431",
        "x.y.z",
    ]
    rng = random.Random(seed)
    out, total = [], 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(2, 6)):
            picked = [
                rng.choice(words) if rng.random() > 0.08 else rng.choice(extras)
                for _ in range(rng.randint(6, 22))
            ]
            sentence = " ".join(picked)
            sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".?!."))
        para = " ".join(sentences)
        kind = rng.random()
        if kind < 0.3:
            lines = re.findall(r".{1,72}(?:\s|$)", para)
            para = (
                f"On Mon, 3 Nov 2026, P{rng.randint(1, 99)} <p{rng.randint(1, 99)}@example.org> wrote:\n"
                + "\n".join("> " * rng.randint(1, 3) + line for line in lines)
            )
        elif kind < 0.4:
            para = "-- \nA. Person\nhttps://example.org/~person"
        out.append(para)
        total += len(para) + 2
    return "\n\n".join(out)


def timed(fn, repeat=3):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def shapes_report(
    scanner: Scanner, shapes: Sequence[str], raws: Sequence[bytes], passes: int
) -> None:
    """Messages/s, per-message median and p99, and each shape's median and held copies."""
    held: dict[str, int] = {}
    for shape, raw in zip(shapes, raws, strict=True):  # warm-up, and the verdicts
        if scanner.scan(raw).verdict != Verdict.PASS:
            held[shape] = held.get(shape, 0) + 1
    runs, totals = [], []
    for _ in range(passes):
        times = []
        for raw in raws:
            t = time.perf_counter()
            scanner.scan(raw)
            times.append(time.perf_counter() - t)
        runs.append(times)
        totals.append(sum(times))
    each = [statistics.median(run[k] for run in runs) for k in range(len(raws))]
    ordered = sorted(each)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    total = statistics.median(totals)
    print(
        f"{len(raws)} messages, {sum(map(len, raws)) / 1e6:.1f} MB, median of {passes} passes "
        f"{total:.2f} s: {len(raws) / total:.0f} messages/s (one core), per message median "
        f"{statistics.median(each) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, held {sum(held.values())}"
    )
    order = [s.name for s in SHAPES]
    for shape in sorted(set(shapes), key=lambda s: order.index(s) if s in order else 0):
        mine = [t for s, t in zip(shapes, each, strict=True) if s == shape]
        size = statistics.mean(len(r) for s, r in zip(shapes, raws, strict=True) if s == shape)
        print(
            f"  {shape:<17} {len(mine):5d} x ~{size / 1000:5.0f} KB: median {statistics.median(mine) * 1000:7.2f} ms, "
            f"{sum(mine) / total * 100:4.1f}% of the time, held {held.get(shape, 0)}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--plain", action="store_true", help="bench/relay.py's ~10 KB text letters")
    kind.add_argument(
        "--html", action="store_true", help="the same letters as multipart/alternative"
    )
    kind.add_argument(
        "--sizes",
        action="store_true",
        help="the dev corpus, cost per MB by size and pathological inputs, instead",
    )
    ap.add_argument("corpus", nargs="?", type=Path, help="with --sizes: the corpus folder")
    args = ap.parse_args()
    scanner = Scanner(load_config(ROOT / "config" / "gateway.toml"))
    if args.plain or args.html:
        raws = letters(args.messages, 10_000, seed=args.seed, html=args.html)
        name = "text + HTML letter" if args.html else "plain letter"
        print(f"scan benchmark: bench/relay.py's ~10 KB {name}s")
        shapes_report(scanner, [name] * len(raws), raws, args.passes)
    elif not args.sizes and args.corpus is None:
        day = day_of_mail(args.messages, seed=args.seed)
        print(f"scan benchmark: a school's day of mail (bench/mix.py, seed {args.seed})")
        print(f"  mix: {proportions(day)}")
        shapes_report(scanner, [m.shape for m in day], [m.raw for m in day], args.passes)
    else:
        sizes_report(scanner, args.corpus or ROOT.parent / "shared" / "corpus" / "dev" / "messages")


def sizes_report(scanner: Scanner, corpus: Path) -> None:
    files = sorted(corpus.glob("*.eml"))
    raws = [f.read_bytes() for f in files]
    if raws:
        for raw in raws:  # warm-up
            scanner.scan(raw)
        passes = [timed(lambda: [scanner.scan(r) for r in raws], 1)[0] for _ in range(5)]
        med = statistics.median(passes)
        print(
            f"dev corpus: {len(raws)} messages, median {med * 1000:.0f} ms a pass, {len(raws) / med:.0f} messages/s (one core)"
        )

    para = (
        "Thank you for coming in today. The homework is on Google Classroom and the trip letter is on Arbor. "
        "Ring the switchboard on 0121 496 0000 if you have questions about Year 9 options evening.\n\n"
    )
    base = message(para * (50_000 // len(para)))
    t_base, _ = timed(lambda: scanner.scan(base))
    per_mb_base = t_base / (len(base) / 1e6)
    print(f"50 KB text: {t_base * 1000:.1f} ms ({per_mb_base:.2f} s/MB)")
    varied_base = None
    for size in (50_000, 250_000, 1_200_000, 5_000_000):
        raw = message(varied_prose(size))
        t_v, r = timed(lambda raw=raw: scanner.scan(raw), 3 if size < 1_000_000 else 1)
        per_mb = t_v / (len(raw) / 1e6)
        varied_base = varied_base or per_mb
        print(
            f"varied prose {len(raw) / 1e3:,.0f} KB: {t_v:.2f} s, {per_mb:.2f} s/MB "
            f"({per_mb / varied_base:.2f}x the 50 KB cost per MB), verdict {r.verdict}"
        )
    big = message(para * (5_000_000 // len(para)))
    t_big, r = timed(lambda: scanner.scan(big), 1)
    print(
        f"5 MB text body: {t_big:.2f} s ({t_big / (len(big) / 1e6):.2f} s/MB, {t_big / (len(big) / 1e6) / per_mb_base:.2f}x the 50 KB cost per MB), verdict {r.verdict}"
    )
    att = message(
        para * 20, [(f"data{i}.bin", bytes(range(256)) * (5_000_000 // 256)) for i in range(4)]
    )
    t_att, r = timed(lambda: scanner.scan(att), 1)
    print(
        f"{len(att) / 1e6:.0f} MB with attachments: {t_att:.2f} s ({t_att / (len(att) / 1e6):.3f} s/MB, {t_att / (len(att) / 1e6) / per_mb_base:.2f}x), verdict {r.verdict}"
    )

    pool = ScanPool(scanner.config)
    try:
        cases = {
            "1 MB line of a-a-a-": message("a-" * 500_000),
            "70,000 short digit groups": message(
                " ".join(str(i % 97) for i in range(70_000)) + "\n\ntext me on 07911 123456"
            ),
            "3,000 nested multiparts": (
                f"From: t@heartofengland.example\nTo: {PARENT}\nMIME-Version: 1.0\n"
                + "".join(
                    f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
                    for i in range(3000)
                )
                + "\nhi\n"
            ).encode(),
        }
        for name, raw in cases.items():
            t, r = timed(lambda raw=raw: pool.scan(raw), 1)
            print(
                f"{name}: {t:.2f} s, verdict {r.verdict}{' (' + r.error + ')' if r.error else ''}"
            )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
