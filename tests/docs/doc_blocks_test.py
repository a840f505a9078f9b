#!/usr/bin/env python3
"""Every code block of README.md and docs/*.md compiles, runs or is checked,
so the docs cannot drift from the code (issue 21, item 2).

  doc_blocks_test.py --source DIR --build DIR --cxx COMPILER [--include DIR ...] [FILE.md ...]

What happens to a block depends on its language and on an HTML comment on
the line right before its opening fence (invisible on GitHub):

  ```cpp   a whole program: compiled (-fsyntax-only) against the public headers.
    <!-- doc-test: fragment -->      statements: compiled inside a function,
                                     after every public header.
    <!-- doc-test: alternatives -->  a fragment whose lines are alternatives
                                     (each compiled on its own).
  ```sh    run with bash -e in a scratch directory that has build/ (the build
           tree), README.md and docs/ from the source tree, with the build's
           programs on PATH.
    <!-- doc-test: files NAME... -->  those files are made in the scratch
                                     directory first (what the reader has).
    <!-- doc-test: check REASON -->  not run (REASON: it needs a BOINC server,
                                     root, the network...), but every mwkit
                                     program it names must exist in the build
                                     and take every option it is given there
                                     (the option is in its --help).
  ```cmake
    <!-- doc-test: quoted-from PATH -->  each line but comments is a line of
                                     PATH (a file of the source tree that the
                                     tests build).
  any:
    <!-- doc-test: skip REASON -->   left alone; the reason is printed.

Blocks without a language (output, file trees) are not tested. A block in
another language, or a cmake block without a marker, fails the test: a new
kind of block needs a decision here.
"""
import argparse
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")
# The build tree's program directories, put on PATH for shell blocks.
PROGRAM_DIRS = ["tools", "work_generator", "project_setup", "validator", "assimilator",
                "client_wrapper", "mpi_worker", "examples", "bench", "status"]
RUN_TIMEOUT = 300


class Block:
    def __init__(self, path, line, lang, text, marker, argument):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.marker, self.argument = marker, argument

    def where(self):
        return f"{self.path}:{self.line}"


def blocks_of(path, shown_name):
    lines = pathlib.Path(path).read_text(encoding="utf-8").split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang = m.group(1)
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise SystemExit(f"{shown_name}:{start + 1}: a code block that is never closed")
        i += 1  # the closing fence
        marker, argument = None, ""
        if start > 0:
            mm = MARKER.match(lines[start - 1])
            if mm:
                marker, argument = mm.group(1), mm.group(2)
        out.append(Block(shown_name, start + 1, lang, "\n".join(body) + "\n", marker, argument))
    return out


class Checker:
    def __init__(self, args):
        self.source = pathlib.Path(args.source).resolve()
        self.build = pathlib.Path(args.build).resolve()
        self.cxx = args.cxx
        self.includes = [str(self.source / "master_lib/include")] + args.include
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="mw-doc-test-"))
        self.counts = {"compiled": 0, "ran": 0, "checked": 0, "quoted": 0, "skipped": 0, "untested": 0}
        self.failures = []
        self.help_cache = {}

    # --- C++ ---------------------------------------------------------------
    def public_headers(self):
        root = self.source / "master_lib/include"
        return sorted(str(p.relative_to(root)) for p in root.rglob("*.h"))

    def compile_cpp(self, block, code):
        src = self.scratch / f"block_{block.line}.cpp"
        src.write_text(code, encoding="utf-8")
        cmd = [self.cxx, "-std=c++17", "-fsyntax-only"]
        for d in self.includes:
            cmd += ["-I", d]
        cmd.append(str(src))
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
        if r.returncode != 0:
            self.fail(block, "does not compile:\n" + r.stderr + "\n--- as compiled ---\n" + code)
            return False
        return True

    def fragment_source(self, body):
        head = "".join(f'#include "{h}"\n' for h in self.public_headers())
        head += "#include <cstdio>\n#include <string>\n#include <vector>\n"
        return head + "\nvoid doc_test_fragment() {\n" + body + "}\n"

    def cpp(self, block):
        if block.marker is None:
            ok = self.compile_cpp(block, block.text)
        elif block.marker == "fragment":
            ok = self.compile_cpp(block, self.fragment_source(block.text))
        elif block.marker == "alternatives":
            lines = [l for l in block.text.split("\n") if l.strip()]
            ok = all(self.compile_cpp(block, self.fragment_source(l + "\n")) for l in lines)
        else:
            return self.bad_marker(block)
        if ok:
            self.counts["compiled"] += 1
            print(f"{block.where()}: cpp compiled")

    # --- shell -------------------------------------------------------------
    def shell_env(self):
        env = dict(os.environ)
        dirs = [str(self.build / d) for d in PROGRAM_DIRS]
        env["PATH"] = os.pathsep.join(dirs + [env.get("PATH", "/usr/bin:/bin")])
        env["LC_ALL"] = "C"
        return env

    def fresh_dir(self, block):
        work = self.scratch / f"sh_{block.path.replace('/', '_')}_{block.line}"
        work.mkdir()
        (work / "build").symlink_to(self.build)
        (work / "docs").symlink_to(self.source / "docs")
        shutil.copy(self.source / "README.md", work / "README.md")
        return work

    def run_sh(self, block):
        work = self.fresh_dir(block)
        for name in block.argument.split():
            (work / name).write_text("doc-test input\n", encoding="utf-8")
        script = "set -e -o pipefail\n" + block.text
        try:
            r = subprocess.run(["bash", "-c", script], cwd=work, env=self.shell_env(),
                               capture_output=True, text=True, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(block, f"did not finish within {RUN_TIMEOUT} s")
            return
        if r.returncode != 0:
            self.fail(block, f"exited {r.returncode}:\n--- stdout ---\n{r.stdout}--- stderr ---\n{r.stderr}")
            return
        self.counts["ran"] += 1
        print(f"{block.where()}: sh ran")

    def commands(self, text):
        """Each command of a block as a word list: comments, continuations and
        variable assignments (NAME=VALUE, expanded in later commands) handled."""
        variables = {}
        joined = re.sub(r"\\\n", " ", text)
        for line in joined.split("\n"):
            try:
                words = shlex.split(line, comments=True)
            except ValueError as e:
                raise ValueError(f"cannot split '{line}': {e}")
            if not words:
                continue
            if len(words) == 1 and re.match(r"^[A-Za-z_]\w*=", words[0]):
                name, value = words[0].split("=", 1)
                variables[name] = value
                continue
            expanded = [re.sub(r"\$(\w+)|\$\{(\w+)\}",
                               lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), w) for w in words]
            for part in split_on_operators(expanded):
                if part:
                    yield line, part

    def mwkit_program(self, word):
        """The build's program a command word names, or None for other programs."""
        name = os.path.basename(word)
        candidates = []
        if word.startswith("build/"):
            candidates.append(self.build / word[len("build/"):])
        if name.startswith("mw-") or word.startswith("build/"):
            candidates += [self.build / d / name for d in PROGRAM_DIRS]
        else:
            return None
        for c in candidates:
            if c.is_file() and os.access(c, os.X_OK):
                return c
        return pathlib.Path("/nonexistent") / word

    def help_text(self, program, sub):
        key = (str(program), sub)
        if key not in self.help_cache:
            argv = [str(program)] + ([sub] if sub else []) + ["--help"]
            r = subprocess.run(argv, capture_output=True, text=True, env=self.shell_env(), timeout=60)
            self.help_cache[key] = r.stdout if r.returncode == 0 else None
        return self.help_cache[key]

    def check_sh(self, block):
        ok = True
        try:
            commands = list(self.commands(block.text))
        except ValueError as e:
            return self.fail(block, str(e))
        for line, words in commands:
            program = self.mwkit_program(words[0])
            if program is None:
                continue
            if not program.exists():
                ok = self.fail(block, f"'{words[0]}' is not a program of this build (line: {line.strip()})")
                continue
            sub = words[1] if len(words) > 1 and not words[1].startswith("-") else None
            help_text = self.help_text(program, sub) if sub else None
            if help_text is None:
                help_text = self.help_text(program, None)
            if help_text is None:
                ok = self.fail(block, f"{program} --help failed")
                continue
            for w in words[1:]:
                if not w.startswith("--") or w == "--":
                    continue
                option = w.split("=", 1)[0]
                if not re.search(r"(^|[\s,])" + re.escape(option) + r"($|[\s,=])", help_text):
                    ok = self.fail(block, f"{os.path.basename(str(program))}{' ' + sub if sub else ''} "
                                          f"has no option {option} (line: {line.strip()})")
        if ok:
            self.counts["checked"] += 1
            print(f"{block.where()}: sh checked, not run: {block.argument}")

    def sh(self, block):
        if block.marker in (None, "files"):
            self.run_sh(block)
        elif block.marker == "check":
            if not block.argument:
                return self.fail(block, "a 'check' marker must give the reason the block is not run")
            self.check_sh(block)
        else:
            self.bad_marker(block)

    # --- cmake -------------------------------------------------------------
    def cmake(self, block):
        if block.marker != "quoted-from":
            return self.fail(block, "a cmake block needs <!-- doc-test: quoted-from PATH --> or a skip")
        target = self.source / block.argument
        if not target.is_file():
            return self.fail(block, f"quoted-from names {block.argument}, which does not exist")
        have = {l.strip() for l in target.read_text(encoding="utf-8").split("\n")}
        # Comments are the doc's own (where the lines come from); the rest is code.
        missing = [l for l in block.text.split("\n")
                   if l.strip() and not l.strip().startswith("#") and l.strip() not in have]
        if missing:
            return self.fail(block, f"lines not in {block.argument}:\n" + "\n".join(missing))
        self.counts["quoted"] += 1
        print(f"{block.where()}: cmake quoted from {block.argument}")

    # --- all ---------------------------------------------------------------
    def fail(self, block, why):
        self.failures.append(f"{block.where()} ({block.lang}): {why}")
        print(f"{block.where()}: FAILED: {why}")
        return False

    def bad_marker(self, block):
        return self.fail(block, f"marker '{block.marker}' means nothing for a {block.lang} block")

    def check(self, block):
        if block.marker == "skip":
            if not block.argument:
                return self.fail(block, "a skip marker must give its reason")
            self.counts["skipped"] += 1
            print(f"{block.where()}: {block.lang or 'text'} SKIPPED: {block.argument}")
        elif block.lang == "cpp":
            self.cpp(block)
        elif block.lang == "sh":
            self.sh(block)
        elif block.lang == "cmake":
            self.cmake(block)
        elif block.lang in ("", "text"):
            if block.marker is not None:
                return self.fail(block, "a marker on a block without a language")
            self.counts["untested"] += 1
        elif block.lang == "xml":
            self.counts["untested"] += 1  # examples of task.xml, checked by task_format_test
        else:
            self.fail(block, f"no rule for '{block.lang}' blocks: add one to {sys.argv[0]}")


def split_on_operators(words):
    """Splits a word list on shell control operators (&&, ||, ;, |) and drops
    redirections, so each part starts with its program."""
    part = []
    skip_next = False
    for w in words:
        if skip_next:
            skip_next = False
            continue
        if w in ("&&", "||", ";", "|"):
            yield part
            part = []
        elif re.match(r"^\d*[<>]{1,2}&?$", w):
            skip_next = True  # "> file": the file is no argument
        elif re.match(r"^\d*[<>]{1,2}&?\S", w):
            continue  # "2>progress.log"
        else:
            part.append(w)
    yield part


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("files", nargs="*", help="Markdown files (default: README.md and docs/*.md)")
    args = ap.parse_args()
    checker = Checker(args)
    source = checker.source
    files = args.files or [str(source / "README.md")] + sorted(str(p) for p in (source / "docs").glob("*.md"))
    try:
        for f in files:
            shown = os.path.relpath(f, source)
            for block in blocks_of(f, shown):
                checker.check(block)
    finally:
        shutil.rmtree(checker.scratch, ignore_errors=True)
    c = checker.counts
    print(f"doc blocks: {c['compiled']} compiled, {c['ran']} ran, {c['checked']} checked without running, "
          f"{c['quoted']} quoted, {c['skipped']} skipped, {c['untested']} without a language (not tested); "
          f"{len(checker.failures)} failed")
    for f in checker.failures:
        print("FAILED " + f)
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
