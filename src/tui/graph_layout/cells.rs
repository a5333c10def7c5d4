//! The pieces a graph row is made of, and the box-drawing joints between
//! them (a cell's edges as four direction bits, so crossing rails and fans
//! merge into one glyph whatever order they are drawn in).

use crate::event::Id;

/// What one placed piece of a graph row shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Box-drawing edges.
    Edge(String),
    /// A static label: a route condition, a join mode, a loop guard.
    Note(String),
    /// A node: its live label (state, kind, counts, agents).
    Node(usize),
    /// A node already drawn elsewhere (a shared subject).
    Ref(usize),
    /// Collapsed siblings, with live counts by state.
    More(Vec<usize>),
    /// What a folded node contains, with live counts by state.
    Folded(Vec<usize>),
    /// A gate node's review step (live: waiting for you).
    Review(usize),
    /// A plan node's planner (`0`) or reviewer (`1`) step.
    Phase(usize, Id, u8),
    /// A plan node's subtasks (live counts), before its plan is known.
    Subtasks(usize),
    /// One step of a plan node's plan (node, step position; live state).
    Step(usize, usize),
}

/// One piece at a column, drawn at most `max` cells wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Column from the graph's left edge.
    pub col: u16,
    /// Widest it may be drawn (up to the next lane).
    pub max: u16,
    /// What it shows.
    pub piece: Piece,
}

impl Cell {
    /// A piece at `col` with no width limit of its own.
    pub fn new(col: usize, piece: Piece) -> Cell {
        Cell {
            col: col as u16,
            max: u16::MAX,
            piece,
        }
    }
}

/// Edge directions out of one cell.
pub const UP: u8 = 1;
/// Down.
pub const DOWN: u8 = 2;
/// Left.
pub const LEFT: u8 = 4;
/// Right.
pub const RIGHT: u8 = 8;

/// The glyph joining the directions in `bits`.
pub fn joint(bits: u8) -> char {
    match bits {
        0 => ' ',
        b if b == UP | DOWN => '│',
        b if b == LEFT | RIGHT => '─',
        b if b == DOWN | RIGHT => '┌',
        b if b == DOWN | LEFT => '┐',
        b if b == UP | RIGHT => '└',
        b if b == UP | LEFT => '┘',
        b if b == UP | DOWN | RIGHT => '├',
        b if b == UP | DOWN | LEFT => '┤',
        b if b == DOWN | LEFT | RIGHT => '┬',
        b if b == UP | LEFT | RIGHT => '┴',
        b if b == UP | DOWN | LEFT | RIGHT => '┼',
        UP | DOWN => '│',
        LEFT | RIGHT => '─',
        _ => '┼',
    }
}

/// One row of joints being drawn.
#[derive(Debug, Clone, Default)]
pub struct JointRow(pub Vec<u8>);

impl JointRow {
    /// A row `w` cells wide with no edges.
    pub fn new(w: usize) -> JointRow {
        JointRow(vec![0; w])
    }

    /// Adds directions to cell `x` (growing the row).
    pub fn add(&mut self, x: usize, bits: u8) {
        if x >= self.0.len() {
            self.0.resize(x + 1, 0);
        }
        self.0[x] |= bits;
    }

    /// A horizontal line from `a` to `b` (inclusive), ends pointing inwards.
    pub fn hline(&mut self, a: usize, b: usize) {
        for x in a..=b {
            let mut bits = 0;
            if x > a {
                bits |= LEFT;
            }
            if x < b {
                bits |= RIGHT;
            }
            self.add(x, bits);
        }
    }

    /// The glyphs.
    pub fn text(&self) -> String {
        self.0.iter().map(|&b| joint(b)).collect()
    }
}
