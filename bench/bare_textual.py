"""The peer of the TUI's first paint (bench_tui.py): a bare Textual app, one line of text and an
input, launched the same way. What Textual itself costs on this machine: the floor under ours."""

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

SHOWN = "a bare Textual app"


class Bare(App):
    def compose(self) -> ComposeResult:
        yield Static(SHOWN)
        yield Input(placeholder="type here")


if __name__ == "__main__":
    Bare().run()
