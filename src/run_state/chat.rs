//! A chat's transcript as the stream tells it.

use serde::{Deserialize, Serialize};

use crate::event::EventKind;

/// A chat node's turns and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// Chat node.
    pub node: String,
    /// Turns in order (failed ones included).
    pub turns: Vec<ChatLine>,
    /// How it ended, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<ChatEnd>,
}

/// One chat turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Turn, from 1.
    pub turn: u32,
    /// Speaker.
    pub speaker: String,
    /// Spoke because it was addressed (else in turn).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub addressed_in: bool,
    /// The participant this turn addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// What was said (empty for a failed turn).
    pub text: String,
    /// Why the turn failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// How a chat ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEnd {
    /// Turns taken.
    pub turns: u32,
    /// `phrase`, `judge` or `max_turns`.
    pub reason: String,
    /// Who ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Chat {
    /// Folds one chat event for this node in.
    pub(super) fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::ChatTurn {
                turn,
                speaker,
                via,
                addressed,
                text,
                ..
            } => self.turns.push(ChatLine {
                turn: *turn,
                speaker: speaker.to_string(),
                addressed_in: via == "addressed",
                to: addressed.as_deref().map(str::to_owned),
                text: text.clone(),
                failed: None,
            }),
            EventKind::ChatTurnFailed {
                turn,
                speaker,
                error,
                ..
            } => self.turns.push(ChatLine {
                turn: *turn,
                speaker: speaker.to_string(),
                failed: Some(error.clone()),
                ..ChatLine::default()
            }),
            EventKind::ChatEnded {
                turns, reason, by, ..
            } => {
                self.ended = Some(ChatEnd {
                    turns: *turns,
                    reason: reason.clone(),
                    by: by.as_deref().map(str::to_owned),
                })
            }
            _ => {}
        }
    }
}
