"""How every ``anchormi`` command reports trouble: one line on stderr, never a traceback.

- Bad input (``ValueError``, ``TypeError``, ``OSError``) or a missing optional dependency
  (``ImportError``, whose message names the package to install): ``error: <what is wrong and what
  to do>``, exit code 2.
- Anything else is a bug: one ``error:`` line naming the exception type, exit code 1; set
  ``ANCHORMI_TRACEBACK=1`` to see the traceback.
- Python warnings raised inside a command print as ``warning:`` lines.
- ``typer.Exit`` (a command's own exit code, e.g. 130 after Ctrl-C) passes through.

Only typer and the standard library here: ``anchormi --help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

import typer


def one_line(error: BaseException | Warning | str) -> str:
    """The message with its whitespace (newlines included) collapsed; the type name when empty."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {one_line(message)}", err=True)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Wrap a command's body; see the module docstring for what each exception becomes."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            yield
    except typer.Exit:  # a RuntimeError subclass: the command chose its exit code
        raise
    except (ValueError, TypeError, OSError, ImportError) as error:
        typer.echo(f"error: {one_line(error)}", err=True)
        raise typer.Exit(code=2)
    except Exception as error:
        if os.environ.get("ANCHORMI_TRACEBACK"):
            raise
        typer.echo(f"error: {type(error).__name__}: {one_line(error)} (unexpected; rerun with ANCHORMI_TRACEBACK=1 "
                   "for the traceback and report it)", err=True)
        raise typer.Exit(code=1)
