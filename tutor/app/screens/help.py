"""The help screen: every key, and how the course works, in the course's language; its button
(or Ctrl+G) switches the course to the other language."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button

from tutor.i18n import lang

# The key and the button that switch the course between English and Korean (help and lessons
# screens). The label names both languages, each in its own: the same in both.
SWITCH_KEY = Binding("ctrl+g", "app.switch_language", "한국어 / English")
SWITCH_LABEL = "Ctrl+G  한국어 / English"

HELP = """\
# How this works

Read the step on the left, type its commands at the `root@lab:/#` prompt, and watch the
lab's tables and map change. The checks under the step turn ✓ by themselves when the lab
really is in the state the step asks for; then the next step opens. Everything runs in a
lab of namespaces: nothing you type can touch this machine.

| key | what it does |
|---|---|
| Enter | run the command in the lab host |
| Tab | complete a command, a namespace, an interface or a path; Tab again lists the choices |
| ↑ / ↓ | earlier / later commands |
| Ctrl+C | stop the running command (e.g. `ping` without `-c`) |
| Ctrl+L | clear the console |
| F3 | put the step's next command into the prompt (typing it teaches more) |
| Ctrl+T | on a small terminal: all of the step's commands in "Type these", or just the next one |
| F7 / F8 | previous / next step |
| F5 | check the step again now |
| F9 | lab view: next namespace (host, red, …) |
| F10 | lab view: next table (links, addresses, routes, ARP, NAT, map; the map has its own column from 170 columns) |
| F12 | trace the step's failing ping/tcp/fetch check: its packet's way, hop by hop, and where it dies |
| F11 | packets: a live `tcpdump` on an interface of a namespace (Escape or F11 closes it) |
| F4 | the lesson list: jump to any lesson |
| F6 | reset this lesson's lab to its start (asks first) |
| F2 | a real shell in the lab; `exit` comes back here |
| F1 | this help |
| typing | always goes to the prompt, even after a click or F-key put the focus on a pane |
| Ctrl+Q | quit; the lab keeps running (`tutor shell` and `tutor verify` see it), `tutor lab down` stops it |
| Ctrl+G | here or in the lesson list (F4): the course in Korean (한국어), at the same step; the lab keeps running |

A diagram wider than the lesson's pane scrolls sideways: drag the bar under it, or Shift and
the mouse wheel. On a small terminal the panes fold: "Type these" shows only the next command
(Ctrl+T shows them all), the map is F10's last tab, and F2 and F11 leave the footer (they still
work).

In the tables, `+` marks a row that appeared since your last command and `-` one that went
away. `tutor verify LESSON` and `tutor shell` in another terminal see the same lab.

Press Escape or F1 to close this help.
"""

HELP_KO = """\
# 사용 방법

왼쪽의 단계를 읽고, 그 명령을 `root@lab:/#` 프롬프트에 입력하면서 실습 환경의 테이블과 맵이
바뀌는 것을 보세요. 단계 아래의 검사는 실습 환경이 정말로 단계가 요구하는 상태가 되면 저절로
✓로 바뀌고, 그러면 다음 단계가 열립니다. 모든 것은 네임스페이스로 만든 실습 환경 안에서
실행됩니다. 무엇을 입력해도 이 컴퓨터에는 영향이 없습니다.

| 키 | 하는 일 |
|---|---|
| Enter | 실습 호스트에서 명령을 실행합니다 |
| Tab | 명령, 네임스페이스, 인터페이스, 경로를 완성합니다. Tab을 한 번 더 누르면 후보를 보여 줍니다 |
| ↑ / ↓ | 이전 / 다음 명령 |
| Ctrl+C | 실행 중인 명령을 멈춥니다 (예: `-c` 없는 `ping`) |
| Ctrl+L | 콘솔을 지웁니다 |
| F3 | 단계의 다음 명령을 프롬프트에 넣습니다 (직접 입력하면 더 많이 배웁니다) |
| Ctrl+T | 작은 터미널에서: "입력할 명령"에 단계의 명령을 모두 보이거나 다음 명령만 보입니다 |
| F7 / F8 | 이전 / 다음 단계 |
| F5 | 지금 단계를 다시 검사합니다 |
| F9 | 실습 환경 보기: 다음 네임스페이스 (host, red, …) |
| F10 | 실습 환경 보기: 다음 테이블 (링크, 주소, 라우트, ARP, NAT, 맵. 170열부터는 맵이 따로 한 열을 차지합니다) |
| F12 | 단계의 실패한 ping/tcp/fetch 검사를 추적합니다: 패킷이 가는 길을 홉마다, 사라지는 곳까지 보여 줍니다 |
| F11 | 패킷: 네임스페이스의 인터페이스에서 실시간 `tcpdump` (Escape나 F11로 닫습니다) |
| F4 | 레슨 목록: 원하는 레슨으로 이동합니다 |
| F6 | 이 레슨의 실습 환경을 처음 상태로 초기화합니다 (먼저 묻습니다) |
| F2 | 실습 환경의 진짜 셸. `exit`로 여기로 돌아옵니다 |
| F1 | 이 도움말 |
| 입력 | 클릭이나 F 키로 포커스가 다른 창에 가 있어도 항상 프롬프트로 들어갑니다 |
| Ctrl+Q | 종료합니다. 실습 환경은 계속 실행됩니다(`tutor verify`가 봅니다). `tutor lab down`이 멈춥니다 |
| Ctrl+G | 여기나 레슨 목록(F4)에서: 같은 단계를 영어(English)로 봅니다. 실습 환경은 계속 실행됩니다 |

레슨 창보다 넓은 그림은 옆으로 스크롤됩니다. 그림 아래의 막대를 끌거나, Shift를 누른 채
마우스 휠을 돌리세요. 작은 터미널에서는 창이 접힙니다. "입력할 명령"은 다음 명령만 보이고
(Ctrl+T로 모두 봅니다), 맵은 F10의 마지막 탭이 되며, F2와 F11은 아래 줄에서 빠집니다
(키는 그대로 동작합니다).

테이블에서 `+`는 마지막 명령 이후에 생긴 행을, `-`는 사라진 행을 뜻합니다. 다른 터미널의
`tutor verify LESSON`과 `tutor shell`도 같은 실습 환경을 봅니다.

Escape나 F1을 누르면 이 도움말이 닫힙니다.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and a short explanation."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close"), SWITCH_KEY]

    def compose(self) -> ComposeResult:
        # imported here: Textual's Markdown brings markdown-it and pygments (~45 ms), which the
        # app's first frame must not wait for (issue 13); the lesson pane's comes after it too
        from textual.widgets import Markdown
        with VerticalScroll(id="help-box"):
            yield Button(SWITCH_LABEL, id="switch-language")
            yield Markdown(HELP_KO if lang() == "ko" else HELP)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.action_switch_language()   # type: ignore[attr-defined]
