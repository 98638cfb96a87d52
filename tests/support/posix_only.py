"""Find calls in Python source that exist or work only on POSIX and are not behind a platform check.

Host mode runs the launcher and the product on Windows too, where these raise AttributeError
(`os.chown`, `os.geteuid`), ImportError (`pwd`, `fcntl`), ValueError (`preexec_fn`, `user=`) or do
something else (`os.execv` starts a new process and exits, `/tmp` is no directory, `shlex.quote`
quotes for a POSIX shell). A use counts as guarded when a platform check decides whether it runs:
an enclosing `if`/conditional/`and`/`or` whose test reads `os.name`, `sys.platform`,
`platform.system()`, `hasattr(os, ...)` or a parameter named `os_name`; an earlier
`if <check>: return` in the same function; a `try` that catches ImportError or AttributeError; or
a comment `# posix-only: <why it cannot run elsewhere>` on its statement.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

POSIX_OS = frozenset({
    "chown", "lchown", "fchown", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "setuid", "seteuid", "setgid", "setegid", "setgroups", "initgroups", "setsid", "getsid",
    "setpgid", "getpgid", "getpgrp", "killpg", "fork", "forkpty", "wait3", "wait4", "mkfifo",
    "mknod", "openpty", "ttyname", "chroot", "uname", "nice", "pipe2", "posix_spawn",
    "posix_spawnp", "statvfs", "fstatvfs", "sysconf", "pathconf", "confstr", "getloadavg",
    "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe",
})
POSIX_SIGNAL = frozenset({
    "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGALRM", "SIGPIPE",
    "alarm", "setitimer", "pthread_kill", "siginterrupt", "pause",
})
POSIX_MODULES = frozenset({"pwd", "grp", "fcntl", "termios", "tty", "pty", "resource", "posix",
                           "crypt", "syslog"})
POSIX_KEYWORDS = frozenset({"preexec_fn", "user", "group", "extra_groups", "umask", "pass_fds",
                            "process_group", "start_new_session"})
POSIX_PATHS = ("/tmp", "/dev/", "/proc/", "/var/tmp")
MARKER = "# posix-only:"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


SUBPROCESS_CALLS = frozenset({"Popen", "run", "call", "check_call", "check_output"})


def is_platform_check(node: ast.AST, derived: frozenset[str] = frozenset()) -> bool:
    """Whether `node` reads the platform, directly or through a name assigned from such a test."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in derived:
            return True
        if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                and (sub.value.id, sub.attr) in {("os", "name"), ("sys", "platform"),
                                                 ("platform", "system")}):
            return True
        if isinstance(sub, ast.Name) and sub.id == "os_name":
            return True
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "hasattr"
                and sub.args and isinstance(sub.args[0], ast.Name)
                and sub.args[0].id in {"os", "signal", "subprocess"}):
            return True
    return False


def _catches_missing(handler: ast.ExceptHandler) -> bool:
    names = {"ImportError", "ModuleNotFoundError", "AttributeError"}
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in names for kind in kinds)


def derived_names(tree: ast.AST) -> frozenset[str]:
    """Names assigned from a platform check anywhere in the module (`posix = os.name != "nt"`)."""
    return frozenset(target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and is_platform_check(node.value)
                     for target in node.targets if isinstance(target, ast.Name))


def _is_subprocess_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id == "subprocess" and func.attr in SUBPROCESS_CALLS
    return isinstance(func, ast.Name) and func.id in SUBPROCESS_CALLS


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[str], derived: frozenset[str]) -> None:
        self.path = path
        self.lines = lines
        self.derived = derived
        self.findings: list[Finding] = []
        self.guards: list[bool] = [False]

    # -- guards ------------------------------------------------------------------------------
    def _guarded(self, node: ast.AST, statement_lines: range) -> bool:
        if any(self.guards):
            return True
        return any(MARKER in self.lines[number - 1] for number in statement_lines
                   if 0 < number <= len(self.lines))

    def _with_guard(self, guarded: bool, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        self.guards.append(guarded)
        for child in nodes:
            self.visit(child)
        self.guards.pop()

    def visit_If(self, node: ast.If) -> None:
        check = is_platform_check(node.test, self.derived)
        self.visit(node.test)
        self._with_guard(check, node.body)
        self._with_guard(check, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        check = is_platform_check(node.test, self.derived)
        self.visit(node.test)
        self._with_guard(check, [node.body, node.orelse])

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        checked = False
        for value in node.values:
            self._with_guard(checked, [value])
            checked = checked or is_platform_check(value, self.derived)

    def visit_Try(self, node: ast.Try) -> None:
        self._with_guard(any(_catches_missing(h) for h in node.handlers), node.body)
        for part in (node.handlers, node.orelse, node.finalbody):
            for child in part:
                self.visit(child)

    def _visit_body(self, body: list[ast.stmt]) -> None:
        # `if <check>: return` guards everything after it in the same block.
        guarded = False
        for statement in body:
            self._with_guard(guarded, [statement])
            if (isinstance(statement, ast.If) and is_platform_check(statement.test, self.derived)
                    and any(isinstance(s, (ast.Return, ast.Raise)) for s in statement.body)):
                guarded = True

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_body(node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_body(node.body)

    # -- uses --------------------------------------------------------------------------------
    def _report(self, node: ast.AST, what: str) -> None:
        start = getattr(node, "lineno", 0)
        end = getattr(node, "end_lineno", start) or start
        if not self._guarded(node, range(start, end + 1)):
            self.findings.append(Finding(self.path, start, what))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr in POSIX_OS:
                self._report(node, f"os.{node.attr}")
            elif node.value.id == "signal" and node.attr in POSIX_SIGNAL:
                self._report(node, f"signal.{node.attr}")
            elif node.value.id == "shlex":
                self._report(node, f"shlex.{node.attr} (POSIX shell quoting)")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in POSIX_MODULES:
                self._report(node, f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.module.split(".")[0] in POSIX_MODULES:
            self._report(node, f"from {node.module} import ...")

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords if _is_subprocess_call(node) else ():
            is_none = isinstance(keyword.value, ast.Constant) and keyword.value.value in (None, False)
            if (keyword.arg in POSIX_KEYWORDS and not is_none
                    and not is_platform_check(keyword.value, self.derived)):
                self._report(keyword, f"{keyword.arg}= (POSIX-only process option)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value.startswith(POSIX_PATHS):
            self._report(node, f"the POSIX path {node.value!r}")


def scan(path: Path, root: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    scanner = _Scanner(str(path.relative_to(root)), source.splitlines(), derived_names(tree))
    scanner._visit_body(tree.body)
    return scanner.findings


def scan_tree(directory: Path, root: Path) -> list[Finding]:
    return [finding for path in sorted(directory.rglob("*.py")) for finding in scan(path, root)]
