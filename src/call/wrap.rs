//! After-call work: which agents are in wrap, since when, until when.
//!
//! One board is shared by every shard (an agent's calls have different
//! Call-IDs, so they land on different shards). A wrap is identified by an
//! epoch; the shard that started it keeps the deadline timer and ends it
//! with `timeout` only if the same epoch is still on the board, so a wrap
//! that was completed or replaced meanwhile is left alone.

use std::collections::HashMap;
use std::time::Instant;

/// Why a wrap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapEnd {
    /// The agent (desktop, CLI, admin API) said it is done.
    Completed,
    /// The configured time ran out.
    Timeout,
    /// The agent answered (or finished) another interaction.
    NextInteraction,
}

impl WrapEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            WrapEnd::Completed => "completed",
            WrapEnd::Timeout => "timeout",
            WrapEnd::NextInteraction => "next_interaction",
        }
    }
}

/// One agent's wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrap {
    pub epoch: u64,
    pub agent: String,
    /// The interaction whose end started it, and its dialog key (for the
    /// deterministic event ids).
    pub interaction_id: String,
    pub call_id: Box<[u8]>,
    pub caller_tag: Box<[u8]>,
    pub started: Instant,
    pub started_ms: i64,
    pub deadline: Instant,
}

/// The agents in wrap.
#[derive(Debug, Default)]
pub struct WrapBoard {
    next_epoch: u64,
    by_agent: HashMap<String, Wrap>,
}

impl WrapBoard {
    /// Puts `wrap.agent` in wrap (its epoch is assigned here) and returns
    /// the wrap it replaces, if the agent was already in one.
    pub fn start(&mut self, mut wrap: Wrap) -> (u64, Option<Wrap>) {
        self.next_epoch += 1;
        wrap.epoch = self.next_epoch;
        let epoch = wrap.epoch;
        (epoch, self.by_agent.insert(wrap.agent.clone(), wrap))
    }

    /// Ends the agent's wrap (any epoch).
    pub fn take(&mut self, agent: &str) -> Option<Wrap> {
        self.by_agent.remove(agent)
    }

    /// Ends the agent's wrap if it is still `epoch`.
    pub fn take_epoch(&mut self, agent: &str, epoch: u64) -> Option<Wrap> {
        match self.by_agent.get(agent) {
            Some(w) if w.epoch == epoch => self.by_agent.remove(agent),
            _ => None,
        }
    }

    pub fn get(&self, agent: &str) -> Option<&Wrap> {
        self.by_agent.get(agent)
    }

    /// The agent's wrap whose interaction is `id`.
    pub fn agent_of_interaction(&self, id: &str) -> Option<&str> {
        self.by_agent
            .values()
            .find(|w| w.interaction_id == id)
            .map(|w| w.agent.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Wrap> {
        self.by_agent.values()
    }

    pub fn len(&self) -> usize {
        self.by_agent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_agent.is_empty()
    }
}
