"""``rapport-assist sidebar``: open the panel, warm the recognizer, offer the demo call when
there is no microphone."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Generic, Mapping, Sequence, TypeVar

from PySide6.QtCore import QObject, QSettings, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QApplication

from .. import launcher
from ..assist import AssistModel, FeedbackLog
from ..bundled import DEMO_AUDIO, DEMO_TRANSCRIPT  # noqa: F401  (DEMO_TRANSCRIPT: tests and scripts import it from here)
from ..errors import ExitStatus, ModelError, RapportError
from ..playback import ReplayCall, pipeline_events
from ..capture import wait_portaudio_idle
from ..rules import RuleLibrary
from ..sources import ReplayInput
from ..transcript import SPEAKER_MAP_SUFFIXES, SpeakerMap
from ..wording import clause
from . import single
from .controller import Prefs, RuleWatcher
from .window import LiveUnavailable, SidebarWindow

if TYPE_CHECKING:  # pragma: no cover
    from ..annotate import Annotator
    from ..recognizer import Recognizer
    from ..rules import RuleSet

T0 = time.perf_counter()  # module import: close to process start for the sidebar command
T = TypeVar("T")


@dataclass
class SidebarOptions:
    rules: Sequence[Path]
    qa: Path | None = None
    demo: bool = False
    speed: float | None = None
    style: str | None = None
    hotkeys: bool | None = None  # --hotkeys on/off for this session; None: the saved setting (off by default)
    model_dir: Path | None = None
    compute_type: str = "int8"
    threads: int = 2
    turn_pass: bool = False  # --turn-pass on: each closed turn decoded again (review and live; off by default)
    exit_when_ready: bool = False
    settings_path: Path | None = None  # an .ini file instead of the user's settings (tests, screenshots)
    feedback_path: Path | None = None
    mask: bool = True  # mask personal data in everything shown and logged (privacy.py; --no-mask)
    speaker_map: SpeakerMap = ()  # people named as sides in a reviewed transcript (--speaker-map)
    warm_up: bool = True
    argv: list[str] = field(default_factory=list)
    # the options given that a panel already open would not take (only the call to review goes
    # over), for a second start to name them (cli/sidebar.py)
    not_handed_over: Sequence[str] = ()


class _Loading(Generic[T]):
    """A model loaded once, in a background thread when started, else on first use."""

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.name = name
        self._load = load
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._value: tuple[T] | None = None  # (the model,) once loaded
        self._error: BaseException | None = None
        self._started = False

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name=f"sidebar-load-{self.name}", daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = (self._load(),)
        except BaseException as exc:  # kept, raised where the model is needed
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def started(self) -> bool:
        return self._started

    def wait(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)

    def get(self) -> T:
        with self._lock:
            run_here = not self._started
            self._started = True
        if run_here:
            self._run()
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None  # _run sets the value or the error before done
        return self._value[0]


def _one_malloc_arena() -> None:
    """All threads allocate from one glibc arena (``recognizer.one_malloc_arena``), set before
    any thread of the panel's allocates: once a thread has an arena of its own it keeps it,
    and a live call started from the panel (``LiveCall`` sets the limit too) came after the
    loader threads and Qt's (demo call played live into the panel: VmHWM 555 MB with the limit
    set late, 501-508 MB with it set at start; BENCHMARKS.md)."""
    from ..recognizer import one_malloc_arena

    one_malloc_arena()


def platform_args(environ: Mapping[str, str]) -> tuple[list[str], str]:
    """Qt's platform for the panel, as QApplication arguments, and a line for the agent (empty
    when there is nothing to say).

    A Wayland window may neither place itself nor ask to stay on top (xdg-shell has no request
    for either), so natively the panel would open wherever the desktop puts it and go under the
    softphone. Every mainstream Wayland desktop also runs XWayland (``$DISPLAY``), where the
    panel is an X11 window that asks for its dock and to stay on top, and refuses the keyboard,
    as on Xorg: it runs there, with Wayland as the fallback if the xcb plugin cannot start (Qt
    tries a ``;`` list in order). ``QT_QPA_PLATFORM`` set by the agent or the desktop wins."""
    if environ.get("QT_QPA_PLATFORM") or not environ.get("WAYLAND_DISPLAY"):
        return [], ""
    if environ.get("DISPLAY"):
        return ["-platform", "xcb;wayland"], (
            "Wayland session: the panel runs on XWayland so it can dock beside the softphone and stay on "
            "top (QT_QPA_PLATFORM=wayland runs it natively, without both)"
        )
    return [], (
        "Wayland session without XWayland ($DISPLAY is not set): the panel cannot dock itself or stay on "
        "top here; move it beside the softphone yourself"
    )


def display_available(environ: dict[str, str]) -> bool:
    """Whether Qt can open a window: a display, a Wayland socket, or an explicit platform."""
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM"))


class AppBackend(QObject):
    """Loads the models once (in the background), makes QA and live runners, lists devices."""

    status = Signal(str, str, str)  # component, level, message (from the warm-up threads)

    def __init__(
        self, options: SidebarOptions, ruleset: Callable[[], RuleSet] | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        _one_malloc_arena()  # before the loader threads and a live call's threads allocate
        self.options = options
        self._ruleset = ruleset  # callable -> the rule set a new call uses (set by attach_rules)
        self._recognizer = _Loading("recognizer", self._load_recognizer)
        self._annotator = _Loading("annotator", self._load_annotator)
        self.last_status: tuple[str, str, str] | None = None
        self._spacy_imported = threading.Event()
        self._live_call: Any = None
        self.timings: dict[str, float] = {}
        self.status.connect(lambda *s: setattr(self, "last_status", s))

    def warm_up(self) -> None:
        """Load the speech model and spaCy's in two background threads; the window does not wait.

        The spaCy thread imports spaCy first and says so (``wait_spacy_imported``): spaCy must be
        imported on one thread only, and the rule loader needs it too.
        """
        self.status.emit("recognizer", "info", "loading the speech model…")
        self._recognizer.start()
        self._annotator.start()

    def wait_spacy_imported(self, timeout_s: float = 60.0) -> None:
        if self._annotator.started:
            self._spacy_imported.wait(timeout_s)

    def _load_recognizer(self) -> Recognizer:
        from ..recognizer import Recognizer, RecognizerOptions

        recognizer = Recognizer(
            RecognizerOptions(
                model_dir=self.options.model_dir,
                compute_type=self.options.compute_type,
                cpu_threads=self.options.threads,
                turn_pass=self.options.turn_pass,
            )
        )
        recognizer.warm_up()
        self.timings["recognizer_ready_s"] = time.perf_counter() - T0
        self._report()
        return recognizer

    def _load_annotator(self) -> Annotator:
        try:
            from ..models import import_spacy

            import_spacy()  # first, alone (see warm_up), without spaCy's command line
        finally:
            self._spacy_imported.set()
        from ..annotate import Annotator

        annotator = Annotator()
        self.timings["annotator_ready_s"] = time.perf_counter() - T0
        self._report()
        return annotator

    def _report(self) -> None:
        if "recognizer_ready_s" in self.timings and "annotator_ready_s" in self.timings:
            name = self.options.model_dir.name if self.options.model_dir else "tiny.en"
            self.status.emit("recognizer", "ok", f"ready ({name}, {self.options.compute_type})")

    @property
    def is_ready(self) -> bool:
        return self._recognizer.done and self._annotator.done

    def join(self, timeout_s: float = 30.0) -> None:
        """At exit: let models still loading finish (tearing one down mid-load aborts the process)."""
        for loading in (self._recognizer, self._annotator):
            if loading.started:
                loading.wait(timeout_s)

    def recognizer(self) -> Recognizer:
        try:
            return self._recognizer.get()
        except RapportError:
            raise
        except Exception as exc:
            message = f"the speech model did not load: {exc.__class__.__name__}: {exc}"
            self.status.emit("recognizer", "error", message)
            raise ModelError(message, "run 'make setup' or pass --model DIR") from None

    def annotator(self) -> Annotator:
        return self._annotator.get()

    def _current_ruleset(self) -> RuleSet:
        """The rule set a new call uses (the watcher's current one)."""
        if self._ruleset is None:
            raise RuntimeError("no rules attached to the sidebar yet (gui.app.attach_rules)")
        return self._ruleset()

    def replay_input(self, path: Path) -> ReplayInput:
        """What a review of ``path`` replays: the people of ``--speaker-map`` go with the transcripts
        that label turns by name (a recording or a .jsonl opened next takes none)."""
        named = Path(path).suffix.lower() in SPEAKER_MAP_SUFFIXES
        return ReplayInput(path=path, speaker_map=self.options.speaker_map if named else ())

    def make_replay(self, path: Path, speed: float) -> ReplayCall:
        spec = self.replay_input(path)
        return ReplayCall(
            pipeline_events(spec, self._current_ruleset(), self.recognizer, self.annotator, mask=self.options.mask),
            speed=speed,
            label=path.name,
        )

    def make_live(self, prefs: Prefs) -> Any:
        """A ``live.LiveCall`` (the live-capture branch's API) on the saved devices, sharing the
        loaded speech model, spaCy and the current rules; LiveUnavailable says why not."""
        try:
            from .. import live  # live capture (live.py, capture.py) may not be in this build
            from ..capture import DeviceChoice
        except ImportError:
            raise LiveUnavailable("live capture not available in this build") from None
        available, why = self.live_available()
        if not available:
            raise LiveUnavailable(why)
        from ..userdirs import data_dir
        from ..recognizer import RecognizerOptions
        from ..rules import RuleEngine

        saved = self.saved_devices()  # what 'rapport-assist live' saved, when the panel has no choice
        mic = str(prefs.get("devices/mic", "") or saved[0] or "default")
        customer = str(prefs.get("devices/customer", "") or saved[1] or "")
        try:
            settings = live.LiveSettings(
                agent=DeviceChoice.parse(mic),
                customer=DeviceChoice.parse(customer) if customer else None,
                recognizer=RecognizerOptions(
                    model_dir=self.options.model_dir,
                    compute_type=self.options.compute_type,
                    cpu_threads=self.options.threads,
                    turn_pass=self.options.turn_pass,
                ),
                rule_paths=tuple(self.options.rules),
                record_to=data_dir() / "calls",
                mask_digits=self.options.mask,
            )
            self._live_call = live.LiveCall(
                settings,
                recognizer=self.recognizer(),
                engine=RuleEngine(self._current_ruleset()),
                annotator=self.annotator(),
            )
            return self._live_call
        except RapportError as exc:
            raise LiveUnavailable(exc.one_line()) from None
        except (ValueError, TypeError) as exc:
            raise LiveUnavailable(f"live capture could not start: {exc}") from None

    @staticmethod
    def saved_devices() -> tuple[str | None, str | None]:
        """The devices saved by ``rapport-assist live`` (settings.json), shared with the panel."""
        try:
            from ..settings import load_choices
        except ImportError:
            return None, None
        choices = load_choices()
        return choices.agent_device, choices.customer_device

    @staticmethod
    def save_devices(mic: str | None, customer: str | None) -> str:
        """Save the panel's device choice for ``rapport-assist live`` too; '' or why it failed."""
        try:
            from dataclasses import replace

            from ..settings import load_choices, save_choices
        except ImportError:
            return ""
        try:
            save_choices(replace(load_choices(), agent_device=mic or None, customer_device=customer or None))
        except RapportError as exc:
            return exc.one_line()
        return ""

    def devices(self) -> tuple[list[tuple[str, str]] | None, str]:
        """Capture devices as (id, label) (None: cannot be listed) and a note for the user."""
        try:
            from .. import capture
        except ImportError:
            return None, "Live capture is not available in this build; device choice is saved for later."
        live = self._live_call
        if live is None or not any(t.is_alive() for t in getattr(live, "_threads", [])):
            capture.rescan_devices()  # never under a running call: it would close its streams
        try:
            found = capture.list_devices()
        except Exception as exc:  # PortAudio missing or broken
            return None, f"cannot list audio devices: {exc}"
        out = []
        for d in found:
            ident = str(getattr(d, "id", d))
            kind = getattr(d, "kind", "input")
            label = str(getattr(d, "description", "") or getattr(d, "name", ident))
            out.append((ident, f"{label} (monitor)" if kind == "monitor" else label))
        return out, "" if out else "No audio input device found."

    def live_available(self) -> tuple[bool, str]:
        try:
            from .. import live  # noqa: F401
        except ImportError:
            return False, "live capture not available in this build"
        devices, note = self.devices()
        if devices is not None and not devices:
            return False, note or "no microphone found"
        return True, ""

    def audio_player(self, path: Path) -> Any:
        from ..review_audio import open_review_audio

        return open_review_audio(path)


def application(argv: Sequence[str] = ()) -> QApplication:
    existing = QApplication.instance()
    if existing is None:
        app = QApplication(["rapport-assist", *argv])
    elif isinstance(existing, QApplication):
        app = existing
    else:  # a QCoreApplication or QGuiApplication cannot show widgets
        raise RuntimeError(f"the sidebar needs a QApplication, this process has a {type(existing).__name__}")
    app.setApplicationName("Rapport Assist")  # X11's window class: the menu entry's StartupWMClass
    app.setOrganizationName("Rapport Assist")
    # the menu entry the window belongs to (launcher.py), so a dock shows its icon and name
    app.setDesktopFileName(launcher.FILE_NAME.removesuffix(".desktop"))
    return app


def build_window(
    options: SidebarOptions, backend: AppBackend | None = None, load_rules: bool = True
) -> tuple[SidebarWindow, AppBackend]:
    """The window with its model, settings and backend (not shown yet), and unless ``load_rules``
    is False its rules (then call ``attach_rules`` before a call starts)."""
    settings = (
        QSettings(str(options.settings_path), QSettings.Format.IniFormat)
        if options.settings_path
        else QSettings("Rapport Assist", "sidebar")
    )
    prefs = Prefs(settings)
    feedback = FeedbackLog(options.feedback_path) if options.feedback_path else FeedbackLog.default()
    model = AssistModel(prefs.budget(), feedback)
    backend = backend or AppBackend(options)
    backend.status.connect(lambda c, level, m: model.set_status(c, level, m))
    if backend.last_status is not None:  # said before the window existed
        model.set_status(*backend.last_status)
    window = SidebarWindow(model, prefs, backend, None, style=options.style, hotkeys=options.hotkeys)
    backend.setParent(window)
    if load_rules:
        attach_rules(window, backend, options.rules)
    else:
        model.set_status("rules", "info", "loading…")
    return window, backend


def attach_rules(window: SidebarWindow, backend: AppBackend, paths: Sequence[Path]) -> RuleWatcher:
    """Load the rule files and watch them (a broken file now: RuleError, exit 5 with file:line)."""
    library = RuleLibrary(list(paths))
    watcher = RuleWatcher(library, window.model)
    watcher.setParent(window)
    window.rules = watcher
    backend._ruleset = lambda: watcher.ruleset
    return watcher


def demo_hint(why: str) -> str:
    """The hint when live capture cannot run (``why``: its reason, any punctuation) and the demo
    call is loaded instead: "No audio input device found, so the bundled demo call …"."""
    return f"{clause(why)}, so the bundled demo call is loaded for review: press ▶ below (Ctrl+Space) to play it."


class InterruptCloses(QObject):
    """Ctrl-C (SIGINT) in the terminal closes the sidebar as its own close would, once.

    Qt's event loop runs in C++: Python runs its signal handlers only when some Python code runs
    next, and a ``KeyboardInterrupt`` raised inside a slot (the call timer's ``_tick``) is printed
    as a traceback and swallowed, the window staying open. So SIGINT gets a handler that only asks
    for ``close`` on the event loop's next turn, and ``signal.set_wakeup_fd`` writes to a socket a
    ``QSocketNotifier`` watches, so Python runs that handler at once while Qt waits for events.
    """

    def __init__(self, close: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interrupted = False
        self._close = close
        self._closed = False
        self._installed = threading.current_thread() is threading.main_thread()  # signals: main thread only
        if not self._installed:
            return
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, _signum: int, _frame: object) -> None:
        if self.interrupted:  # a second Ctrl-C while closing: the close already asked for goes on
            return
        self.interrupted = True
        QTimer.singleShot(0, self.close_now)  # not here: the handler may run in the middle of any slot

    def close_now(self) -> None:
        """Close (once) after a Ctrl-C; called by Qt's event loop, or before it starts when Ctrl-C
        came during the start (``processEvents`` may already have closed: ``exec`` would not end)."""
        if self.interrupted and not self._closed:
            self._closed = True
            self._close()

    def _drain(self) -> None:
        try:
            while self._read.recv(512):
                pass
        except OSError:  # nothing more to read (BlockingIOError)
            pass

    def restore(self) -> None:
        """Put back the SIGINT handling there was before (at exit, after the models are joined)."""
        if not self._installed:
            return
        self._installed = False
        signal.signal(signal.SIGINT, self._old_handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()


class SecondStarts:
    """The requests of second starts (``single.Listener``) for the panel in ``windows`` (empty
    while it is built): one that names a call while the rules are still loading (a review cannot
    start without them) shows the panel now, and its call opens when they have loaded
    (``open_waiting``), the latest request winning over the first start's own call."""

    def __init__(self, windows: list[SidebarWindow]) -> None:
        self.windows = windows
        self.waiting: dict | None = None

    def take(self, request: dict) -> str:
        """What the panel did, in words, for the second start to print."""
        if not self.windows:
            return "still opening"
        window = self.windows[0]
        named = single.call_named(request)
        if window.rules is None and named:
            self.waiting = request
            return f"{window.take_request({})}; {named} opens when the rules have loaded"
        return window.take_request(request)

    def open_waiting(self) -> None:
        """The rules have loaded: open the call a second start asked for meanwhile, if one did."""
        request, self.waiting = self.waiting, None
        if request is not None and self.windows:
            self.windows[0].take_request(request)


def run_sidebar(options: SidebarOptions, stdout: IO[str], stderr: IO[str]) -> int:
    """Show the window first; the speech model and spaCy load in background threads while the
    rules load on this one (they need spaCy's matcher, imported by the spaCy thread first).
    Ctrl-C in the terminal closes the window as its own close would: exit 130 (INTERRUPTED)."""
    _one_malloc_arena()  # before Qt's threads too
    platform, note = platform_args(os.environ)
    app = application([*platform, *options.argv])
    # one panel per user and settings: a second start (the menu entry while the one opened at
    # login runs) hands its request to the open panel and ends. 'sidebar' asked before it loaded
    # the GUI (cli/sidebar.py); here only a panel that began listening since is asked
    name = single.server_name(options.settings_path)
    windows: list[SidebarWindow] = []
    starts = SecondStarts(windows)

    def second_start(request: dict) -> str:
        answer = starts.take(request)
        stderr.write(f"rapport-assist: a second start asked for the sidebar: {answer}\n")
        stderr.flush()
        return answer

    listener = single.Listener(name, second_start, app)
    answer = None
    if not listener.listen() and listener.taken:
        # another start began listening since this one asked: that one is the panel
        answer = single.hand_over(name, single.request_for(options.qa, options.demo))
    if answer is not None:
        stderr.write(f"rapport-assist: {single.already_open(answer, options.not_handed_over)}\n")
        return ExitStatus.OK
    if note:
        stderr.write(f"rapport-assist: {note}\n")
        stderr.flush()
    app.setQuitOnLastWindowClosed(True)
    if not listener.server.isListening():
        stderr.write(
            f"rapport-assist: warning: cannot listen for a second start ({listener.server.errorString()}); "
            "starting the sidebar again will open a second panel\n"
        )

    def close_on_interrupt() -> None:
        stderr.write("rapport-assist: interrupted, closing the sidebar\n")
        stderr.flush()
        for window in windows:
            window.close()  # as the window's own close: a call is stopped, its log finished at exit
        app.quit()  # also when a dialog's own event loop is running

    interrupt = InterruptCloses(close_on_interrupt, app)
    try:
        code = _run_window(app, options, windows, interrupt, stdout, starts)
    finally:
        listener.server.close()  # also when there was no event loop to end (Ctrl-C at the start)
        interrupt.restore()
    return ExitStatus.INTERRUPTED if interrupt.interrupted else code


def _run_window(
    app: QApplication,
    options: SidebarOptions,
    windows: list[SidebarWindow],
    interrupt: InterruptCloses,
    stdout: IO[str],
    starts: SecondStarts | None = None,
) -> int:
    backend = AppBackend(options)
    if options.warm_up:
        backend.warm_up()
    window, backend = build_window(options, backend, load_rules=False)
    windows.append(window)
    model = window.model
    live_ok, why = backend.live_available()
    if not live_ok:
        model.set_status("microphone", "off", why)
        model.set_status("customer", "off", "—")
    else:
        model.set_status("microphone", "info", "ready — press Start call")
        model.set_status("customer", "info", "ready")
    window.show()
    app.processEvents()  # paint it before the rules load
    timings = {"window_shown_s": time.perf_counter() - T0}
    backend.wait_spacy_imported()
    try:
        attach_rules(window, backend, options.rules)
    except RapportError:
        window.close()
        raise
    timings["rules_loaded_s"] = time.perf_counter() - T0

    if interrupt.interrupted:  # Ctrl-C while it started: no review to start and stop again
        pass
    elif options.qa is not None:
        window.open_qa(options.qa, speed=options.speed)
    elif options.demo or not live_ok:
        window.open_demo(paused=not options.demo)
        if not options.demo:
            window.set_hint(demo_hint(why))
        if options.speed is not None:
            window.set_speed(options.speed)
    if starts is not None and not interrupt.interrupted:
        starts.open_waiting()

    if options.exit_when_ready:

        def check() -> None:
            if backend.is_ready or not options.warm_up:
                app.processEvents()  # the loaders' last status signals, posted before they finished
                timings.update(backend.timings)
                timings["ready_s"] = time.perf_counter() - T0
                report: dict[str, Any] = {k: round(v, 3) for k, v in timings.items()}
                report.update(
                    platform=app.platformName(),
                    mode=window.controller.mode,
                    review=window.qa_path.name if window.qa_path else None,
                    recognizer=model.status["recognizer"].message,
                    rules=model.status["rules"].message,
                )
                stdout.write(json.dumps(report) + "\n")
                stdout.flush()
                window.close()
                app.quit()
            else:
                QTimer.singleShot(20, check)

        QTimer.singleShot(0, check)
    if interrupt.interrupted:  # Ctrl-C while it started: close now, there may be no event loop turn left
        interrupt.close_now()
        code = 0
    else:
        code = app.exec()
    window.controller.stop()
    window.controller.join_stopped()
    backend.join()
    wait_portaudio_idle()  # PortAudio is terminated at exit: no review output may still be closing in it
    return int(code)


def parse_speed(text: str) -> float:
    if text in ("max", "inf"):
        return math.inf
    value = float(text.rstrip("x×"))
    if value not in (1.0, 2.0, 4.0):
        raise ValueError(text)
    return value
