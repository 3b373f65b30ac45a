"""Fetch Labeled Faces in the Wild once, through scikit-learn's loader, when a fresh machine has no faces.

``make demo`` on a machine without ``../shared`` and without scikit-learn's LFW cache: if the
download host answers, say what will be fetched and how big, fetch it with progress lines, and
go on; if not (offline), the caller keeps its clear "no face photographs found" message.
A failed download is one :class:`FacesNotFound` line naming the address and the cause.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from simulator.faces import FacesNotFound, sklearn_lfw_dir

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://ndownloader.figshare.com/files/5976015"  # scikit-learn's lfw-funneled.tgz
SIZE_MB = 233  # lfw-funneled.tgz: 243,346,528 bytes, plus three small pairs files
URL_ENV = "TEPAT_LFW_URL"  # another address for the archive (a local mirror; the tests use it)


def archive_url() -> str:
    """Where the funneled LFW archive is fetched from: ``$TEPAT_LFW_URL``, else scikit-learn's own address."""
    override = os.environ.get(URL_ENV)
    if override:
        return override
    with contextlib.suppress(ImportError, AttributeError):
        from sklearn.datasets import _lfw

        return str(_lfw.FUNNELED_ARCHIVE.url)
    return DEFAULT_URL


def reachable(url: str, timeout_s: float = 5.0) -> bool:
    """True if a TCP connection to the URL's host and port opens within ``timeout_s`` (the machine is online)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _folder_bytes(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            with contextlib.suppress(OSError):
                if p.is_file():
                    total += p.stat().st_size
    return total


def _report_progress(folder: Path, done: threading.Event, say: Callable[[str], None], every_s: float) -> None:
    last = -1
    while not done.wait(every_s):
        mb = _folder_bytes(folder) // 2**20
        if mb != last:
            say(f"  LFW: {mb} of about {SIZE_MB} MB")
            last = mb


def fetch_lfw(say: Callable[[str], None] = print, *, every_s: float = 2.0) -> Path:
    """Download and unpack LFW (funneled) into scikit-learn's data folder; returns the photographs' folder."""
    try:
        from sklearn.datasets import fetch_lfw_people
    except ImportError:
        raise FacesNotFound("downloading Labeled Faces in the Wild needs scikit-learn (pip install 'tepat-edge[sim]')") from None
    target = sklearn_lfw_dir()
    data_home = target.parents[1]
    url = archive_url()
    lfw_home = target.parent
    lfw_home.mkdir(parents=True, exist_ok=True)
    say(f"faces: none found; fetching Labeled Faces in the Wild (about {SIZE_MB} MB, once) from {url} into {lfw_home}")
    done = threading.Event()
    reporter = threading.Thread(target=_report_progress, args=(lfw_home, done, say, every_s), daemon=True)
    reporter.start()
    started = time.monotonic()
    try:
        with _archive_at(url), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns on each retry; the outcome is reported below
            # Small images of a few people keep memory low: the files on disk are what the simulator uses.
            fetch_lfw_people(data_home=str(data_home), funneled=True, resize=0.1, min_faces_per_person=70,
                             download_if_missing=True, n_retries=1, delay=1.0)
    except Exception as exc:  # noqa: BLE001 - urllib, tarfile and checksum errors all mean the same to the user
        raise FacesNotFound(f"downloading Labeled Faces in the Wild from {url} failed ({type(exc).__name__}: {exc}); "
                            "pass --faces DIR or try again online") from None
    finally:
        done.set()
        reporter.join(timeout=5)
    say(f"  LFW: ready in {time.monotonic() - started:.0f} s at {target}")
    return target


@contextlib.contextmanager
def _archive_at(url: str):
    """Point scikit-learn's loader at ``url`` for the archive while fetching (a no-op for its own address)."""
    try:
        from sklearn.datasets import _lfw
    except ImportError:
        yield
        return
    original = getattr(_lfw, "FUNNELED_ARCHIVE", None)
    if original is None or original.url == url:
        yield
        return
    _lfw.FUNNELED_ARCHIVE = original._replace(url=url)
    targets = getattr(_lfw, "TARGETS", ())
    base = url.rsplit("/", 1)[0]
    _lfw.TARGETS = tuple(t._replace(url=f"{base}/{t.filename}") for t in targets)
    try:
        yield
    finally:
        _lfw.FUNNELED_ARCHIVE = original
        _lfw.TARGETS = targets


def offer_lfw(say: Callable[[str], None] = print) -> bool:
    """Fetch LFW if the download host answers; False (nothing fetched) when the machine is offline."""
    url = archive_url()
    if not reachable(url):
        logger.info("LFW download host %s does not answer: offline", urlsplit(url).hostname)
        return False
    fetch_lfw(say)
    return True
