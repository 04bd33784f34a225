"""The topology map: what is cabled to what, drawn with box characters (pure, no Textual).

`describe(snapshot)` turns a LabSnapshot into a `Topology` (boxes, interfaces and cables:
veth pairs matched by `LabState.peer_of`, the checks' own resolver, bridge ports by their
master, the world by the lab host's cables to it). `draw(topology, width)` lays it out: the world
on top, the lab host below it, the student's namespaces underneath, with a line wherever a cable joins two boxes.
A `Topology` is already what the screen shows: `describe` passes every name from the lab
through `tutor.sanitize.cell`, so the layout measures the same text that is drawn. It measures
in terminal cells (`rich.cells.cell_len`), never `len()`: a namespace named in Hangul
(`ip netns add 빨강`) takes two cells a character, and the canvas keeps one cell per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len, get_character_cell_size, set_cell_size
from rich.text import Text

from tutor.i18n import _
from tutor.lab.state import HOST, LabState, Link
from tutor.lab.watch import LabSnapshot
from tutor.lab.world import NODES as WORLD_NODES
from tutor.sanitize import cell

# The world the lab host is wired to (tutor/lab/network.py builds it; shown, not read).
# The lab host's cables to the world: device -> (machine, what the map says of it).
WORLD = {n.host_dev: (n.label, " · ".join([n.ip, *(f"{s.kind} {s.address}" for s in n.services
                                                   if s.kind == "dns")]))
         for n in WORLD_NODES}
MAX_BOX = 60


@dataclass
class Iface:
    """One interface line in a box."""
    name: str
    state: str               # "up", "DOWN", "no-carrier"
    addrs: list[str]
    kind: str
    peer: str = ""           # "red:veth1", "host:veth0", "internet", or ""
    ports: list[str] = field(default_factory=list)   # a bridge's ports
    port_of: str = ""        # the bridge this interface is plugged into


@dataclass
class Box:
    """A namespace (or the lab host) and its interfaces."""
    name: str                # "host" for the lab host
    ifaces: list[Iface]
    to_host: bool = False    # cabled to the lab host (directly or through a bridge port)


@dataclass
class Topology:
    """The whole picture: the lab host, the student's namespaces, the world links used."""
    host: Box
    namespaces: list[Box]
    world: list[tuple[str, str, str]]   # (node, what it is, host interface)


def _state(link: Link) -> str:
    if not link.admin_up:
        return "DOWN"
    return "up" if link.oper in ("UP", "UNKNOWN") else "no-carrier"


def _peer(lab: LabState, link: Link) -> str:
    """Where the other end of a veth is: `NS:DEV`, a world node, or ''."""
    if link.kind != "veth" or not link.peer_index:
        return ""
    peer = lab.peer_of(link)
    if peer is not None:
        return f"{cell(peer.ns)}:{cell(peer.name)}"
    if link.peer_nsid is None:   # in this namespace, but gone between two reads
        return f"{cell(link.ns)}:if{link.peer_index}"
    if link.ns == HOST and link.name in WORLD:
        return WORLD[link.name][0]
    return "?"


def describe(snapshot: LabSnapshot) -> Topology | None:
    """The topology of a snapshot (None while the lab is not read yet)."""
    lab = snapshot.state
    if HOST not in lab.ns:
        return None
    boxes = {}
    for name, ns in lab.ns.items():
        ifaces = []
        for link in ns.links.values():
            if link.name == "lo" and name == HOST:
                continue
            ifaces.append(Iface(cell(link.name), _state(link), [f"{a}/{p}" for a, p in link.addrs],
                                cell(link.kind), _peer(lab, link), port_of=cell(link.master or "")))
        by_name = {i.name: i for i in ifaces}
        for i in ifaces:
            if i.port_of in by_name:
                by_name[i.port_of].ports.append(i.name)
        boxes[name] = Box(cell(name), ifaces)
    host = boxes.pop(HOST)
    for box in boxes.values():
        box.to_host = any(i.peer.startswith("host:") for i in box.ifaces)
    world = [(WORLD[i.name][0], WORLD[i.name][1], i.name) for i in host.ifaces
             if i.name in WORLD and i.peer == WORLD[i.name][0]]
    return Topology(host, [boxes[n] for n in sorted(boxes)], world)


# -- drawing ---------------------------------------------------------------------------------
STATE_STYLE = {"up": "green", "DOWN": "bold red", "no-carrier": "yellow"}


def _clip(text: str, cells: int) -> str:
    """`text` cut to at most `cells` terminal cells (a wide character that would be cut in half
    becomes a space)."""
    return text if cell_len(text) <= cells else set_cell_size(text, max(cells, 0))


class Canvas:
    """A grid of styled terminal cells that grows downwards. A wide character (Hangul) fills
    its cell and the next, which holds "" so that every row stays `width` cells wide."""

    def __init__(self, width: int):
        self.width = width
        self.rows: list[list[tuple[str, str]]] = []

    def put(self, x: int, y: int, text: str, style: str = "") -> None:
        """Write text at (x, y), clipped at the right edge."""
        while len(self.rows) <= y:
            self.rows.append([(" ", "")] * self.width)
        row = self.rows[y]
        for ch in text:
            size = get_character_cell_size(ch)
            if size == 0:
                continue
            if 0 <= x and x + size <= self.width:
                self._clear(row, x, size)
                row[x] = (ch, style)
                if size == 2:
                    row[x + 1] = ("", style)
            elif 0 <= x < self.width:   # a wide character cut by the edge
                self._clear(row, x, 1)
                row[x] = (" ", style)
            x += size

    @staticmethod
    def _clear(row: list[tuple[str, str]], x: int, size: int) -> None:
        """Make room at x..x+size: a wide character partly written over leaves a space."""
        if row[x][0] == "" and x > 0:
            row[x - 1] = (" ", row[x - 1][1])
        end = x + size - 1
        if end + 1 < len(row) and row[end + 1][0] == "" and get_character_cell_size(row[end][0]) == 2:
            row[end + 1] = (" ", row[end + 1][1])

    def box(self, x: int, y: int, w: int, h: int, title: str, style: str = "") -> None:
        """A rounded box with its title in the top border."""
        self.put(x, y, "╭" + "─" * (w - 2) + "╮", style)
        for row in range(y + 1, y + h - 1):
            self.put(x, row, "│", style)
            self.put(x + w - 1, row, "│", style)
        self.put(x, y + h - 1, "╰" + "─" * (w - 2) + "╯", style)
        self.put(x + 2, y, _clip(f" {title} ", w - 4), "bold " + style)

    def text(self) -> Text:
        """The canvas as Rich Text (style runs merged)."""
        out = Text()
        for n, row in enumerate(self.rows):
            if n:
                out.append("\n")
            run, style = "", None
            for ch, st in row:
                if st != style and run:
                    out.append(run, style or None)
                    run = ""
                run, style = run + ch, st
            out.append(run.rstrip() if not style else run, style or None)
        return out


def _iface_lines(box: Box) -> list[list[tuple[str, str]]]:
    """Each interface as styled segments; bridge ports are indented under their bridge."""
    lines = []
    ports = {p for i in box.ifaces for p in i.ports}
    by_name = {i.name: i for i in box.ifaces}

    def line(i: Iface, indent: str) -> None:
        segs = [(indent + i.name, "bold" if i.kind == "bridge" else ""), (" ", ""),
                (i.state, STATE_STYLE.get(i.state, ""))]
        if i.addrs:
            segs.append((" " + ",".join(i.addrs), "cyan"))
        if i.kind == "bridge":
            segs.append((" bridge", "magenta"))
        if i.peer:
            segs.append((" ⇄ " + i.peer, "dim" if i.peer == "?" else "yellow"))
        lines.append(segs)

    for i in box.ifaces:
        if i.name in ports:
            continue
        line(i, "")
        for n, port in enumerate(i.ports):
            line(by_name[port], " └ " if n == len(i.ports) - 1 else " ├ ")
    return lines


def _seg_len(segs: list[tuple[str, str]]) -> int:
    return sum(cell_len(s) for s, _ in segs)


def _write(canvas: Canvas, x: int, y: int, segs: list[tuple[str, str]], room: int) -> None:
    for text, style in segs:
        if room <= 0:
            return
        if cell_len(text) > room:
            text = _clip(text, room - 1) + "…"
        canvas.put(x, y, text, style)
        x += cell_len(text)
        room -= cell_len(text)


def draw(topo: Topology | None, width: int) -> Text:
    """The map, at most `width` columns wide."""
    if topo is None:
        return Text(_("reading the lab…"), style="dim")
    width = max(width, 30)
    canvas = Canvas(width)
    y = 0
    # the world
    joints_top = []
    x = 2
    for node, what, _dev in topo.world:
        w = min(max(cell_len(node), cell_len(what)) + 4, width - x)
        if w < 8:
            break
        canvas.box(x, y, w, 3, node, "blue")
        canvas.put(x + 2, y + 1, _clip(what, w - 4), "cyan")
        joints_top.append(x + w // 2)
        x += w + 2
    if topo.world:
        y += 3
    # the student's namespaces, laid out in rows first: the host box spans the first row
    placed, x, row = [], 0, 0
    for box in topo.namespaces:
        lines = _iface_lines(box) or [[(_("no interfaces"), "dim")]]
        w = min(max(max(_seg_len(l) for l in lines) + 4, cell_len(box.name) + 6), MAX_BOX, width)
        if x and x + w > width:
            x, row = 0, row + 1
        placed.append((box, lines, x, w, row))
        x += w + 1
    # the lab host
    lines = _iface_lines(topo.host) or [[(_("no interfaces"), "dim")]]
    reach = [j + 2 for j in joints_top] + [bx + 3 for b, _, bx, _, r in placed if r == 0 and b.to_host]
    hw = min(width, max([_seg_len(l) + 4 for l in lines] + [30] + reach))
    canvas.box(0, y, hw, len(lines) + 2, _("lab host"), "bold")
    for j in joints_top:
        if j < hw - 1:
            canvas.put(j, y, "┴", "blue")
            canvas.put(j, y - 1, "┬", "blue")
    for n, segs in enumerate(lines):
        _write(canvas, 2, y + 1 + n, segs, hw - 4)
    host_bottom = y + len(lines) + 1
    y = host_bottom + 1
    row_y, row_h, current = y, 0, 0
    for box, lines, x, w, row in placed:
        if row != current:
            row_y, row_h, current = row_y + row_h, 0, row
        canvas.box(x, row_y, w, len(lines) + 2, box.name, "yellow" if box.to_host else "")
        for n, segs in enumerate(lines):
            _write(canvas, x + 2, row_y + 1 + n, segs, w - 4)
        if box.to_host and row == 0 and x + 1 < hw - 1:
            canvas.put(x + 1, host_bottom, "┬", "yellow")
            canvas.put(x + 1, row_y, "┴", "yellow")
        row_h = max(row_h, len(lines) + 2)
    return canvas.text()
