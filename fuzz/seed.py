#!/usr/bin/env python3
"""Builds fuzz/corpus/<target>/ from committed files: fixtures/, rules/ and fuzz/seeds/.

Nothing here is committed output: the corpus directory is git-ignored and grows while fuzzing.
Each seed is named after where it came from. Run by run-all.sh before fuzzing (idempotent:
existing corpus files are kept, seeds are re-added).
"""
import io
import os
import re
import sys
import tarfile
import zipfile
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
FIX = ROOT / "fixtures"
MAX = 64 << 10  # bigger files are not seeds


def small_files(pattern, base=FIX):
    for p in sorted(base.glob(pattern)):
        if p.is_file() and p.stat().st_size <= MAX:
            yield p


def put(target, name, data):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[-120:]
    (d / safe).write_bytes(data)


def rel(p):
    return str(p.relative_to(ROOT))


def encode_files(files):
    """diag_fuzz::encode_files: [path len u8][path][content len u16 LE][content]."""
    out = bytearray()
    for path, content in files:
        b = path.encode()[:255]
        out.append(len(b))
        out += b
        c = content[:0xFFFF]
        out += len(c).to_bytes(2, "little")
        out += c
    return bytes(out)


def bundle_files(root, per_file=8 << 10, total=60 << 10):
    files, size = [], 0
    for p in sorted(root.rglob("*")):
        if not p.is_file() or "report-" in str(p):
            continue
        data = p.read_bytes()[:per_file]
        if size + len(data) > total:
            continue
        size += len(data)
        files.append((str(p.relative_to(root)), data))
    return files


def tar_of(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for path, data in bundle_files(root, per_file=4 << 10, total=48 << 10):
            info = tarfile.TarInfo(f"{root.name}/{path}")
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_of(root):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in bundle_files(root, per_file=4 << 10, total=48 << 10):
            z.writestr(zipfile.ZipInfo(f"{root.name}/{path}", (1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def rule_conditions():
    """Each rule's `abnormal_when:` block, dedented (the condition target's input)."""
    for p in small_files("**/*.yaml", ROOT / "rules"):
        lines = p.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("abnormal_when:"):
                inline = line[len("abnormal_when:"):].strip()
                if inline:
                    yield p, inline + "\n"
                    continue
                block = []
                for l in lines[i + 1:]:
                    if l and not l.startswith(" "):
                        break
                    block.append(l)
                text = "\n".join(block)
                indent = min((len(l) - len(l.lstrip()) for l in block if l.strip()), default=0)
                yield p, "\n".join(l[indent:] for l in block) + "\n"


def main():
    is_zstd = lambda p: p.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    for p in small_files("**/*.json"):
        if not is_zstd(p):
            put("json_differential", rel(p), p.read_bytes())
    for p in small_files("bad/**/*"):
        put("json_differential", rel(p), p.read_bytes())
    for p in small_files("**/*.toml"):
        put("config_toml", rel(p), p.read_bytes())
    for p in small_files("**/meta.yaml"):
        put("meta_yaml", rel(p), p.read_bytes())
    rules = list(small_files("**/*.yaml", ROOT / "rules"))
    for p in rules[::3]:  # a third of the rules covers every shape; fewer seeds, faster start
        put("rule_file", rel(p), p.read_bytes())
    for i, (p, cond) in enumerate(rule_conditions()):
        put("condition", f"{rel(p)}.{i}", bytes([i % 4]) + cond.encode())
    for p in rules:
        text = p.read_text(errors="replace")
        for m in re.finditer(r"rhai: '(.*)'", text):
            put("rhai_sandbox", f"{rel(p)}.expr", b"\x00" + m.group(1).replace("''", "'").encode())
        m = re.search(r"^rhai_script: \|\n((?:  .*\n|\n)+)", text, re.M)
        if m:
            put("rhai_sandbox", f"{rel(p)}.script", b"\x01" + re.sub(r"^  ", "", m.group(1), flags=re.M).encode())
    for target, ext in [("source_zip", ".zip"), ("source_tar", ".tar")]:
        for p in small_files(f"**/*{ext}"):
            put(target, rel(p), p.read_bytes())
    for p in small_files("**/*.tar.gz"):
        put("source_targz", rel(p), b"\x01" + p.read_bytes())
    for p in small_files("**/*.tar.zst"):
        put("source_tarzst", rel(p), b"\x01" + p.read_bytes())
    for name in ["minimal", "diag-fPrz0RnDxRn", "diag-system-faults", "diag-operator-faults"]:
        put("source_zip", f"{name}.zip", zip_of(FIX / name))
        tar = tar_of(FIX / name)
        put("source_tar", f"{name}.tar", tar)
        put("source_targz", f"{name}.tar", b"\x00" + tar)
        put("source_tarzst", f"{name}.tar", b"\x00" + tar)
    for d in sorted(FIX.iterdir()):
        if d.is_dir() and ((d / "cluster.json").exists() or (d / "meta.yaml").exists()):
            put("bundle_memory", d.name, encode_files(bundle_files(d)))
    for d in sorted((FIX / "bad").iterdir()):
        if d.is_dir():
            put("bundle_memory", f"bad-{d.name}", encode_files(bundle_files(d)))
    for p in list(small_files("logs/*")) + list(small_files("**/log/*.log")):
        if p.suffix != ".gz":
            put("log_lines", rel(p), b"\x00" + p.read_bytes())
    for p in small_files("**/dmesg.log"):
        put("log_lines", rel(p), b"\x01" + p.read_bytes())
        put("system_files", rel(p), b"\x03" + p.read_bytes())
    for p in small_files("**/*slow*.log"):
        put("slow_log", rel(p), p.read_bytes())
    for p in small_files("**/*.csv"):
        put("db_vars_csv", rel(p), p.read_bytes())
    for i, name in enumerate(["insight.json", "limits.conf", "sysctl.conf"]):
        for p in small_files(f"**/{name}"):
            put("system_files", rel(p), bytes([i]) + p.read_bytes())
    for p in small_files("**/monitor/alerts/**/alerts.json"):
        put("metrics_alerts", rel(p), b"\x00" + p.read_bytes())
    for p in small_files("**/monitor/metrics/**/*.json"):
        put("metrics_alerts", rel(p), b"\x01" + p.read_bytes())
    # Hand-written seeds (fuzz/seeds/<target>/): hostile shapes the fixtures lack.
    seeds = FUZZ / "seeds"
    if seeds.is_dir():
        for d in sorted(seeds.iterdir()):
            for p in sorted(d.iterdir()):
                put(d.name, f"seed-{p.name}", p.read_bytes())
    for d in sorted((FUZZ / "corpus").iterdir()):
        print(f"{d.name:20} {len(list(d.iterdir())):5} inputs")


if __name__ == "__main__":
    sys.exit(main())
