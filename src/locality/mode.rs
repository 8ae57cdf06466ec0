//! [`Mode`], the operator's choice of how peers are chosen (`[LOCALITY] mode`), in a file of its
//! own because the configuration uses it: the fuzz crate (`fuzz/src/lib.rs`) compiles the
//! configuration from its source files and takes this one with it, without the network map.

/// How peers are chosen (`[LOCALITY] mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Uniformly at random from the whole swarm.
    Off,
    /// The requester's network first, then the operator's other networks, then the rest; a
    /// share of each answer is drawn from the whole swarm.
    #[default]
    Prefer,
    /// As `Prefer`, but a requester inside the operator's networks never gets a peer outside
    /// them, and a requester outside them never one inside.
    Strict,
}

impl Mode {
    /// Every mode, in the order of the configuration's documentation.
    pub const ALL: [Mode; 3] = [Mode::Off, Mode::Prefer, Mode::Strict];

    /// The word of `[LOCALITY] mode`.
    pub fn word(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Prefer => "prefer",
            Mode::Strict => "strict",
        }
    }
}
