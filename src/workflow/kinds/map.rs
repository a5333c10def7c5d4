//! `map`: scatter-gather, one body run per item.

use serde_json::Value;

use super::Kind;
use crate::workflow::expr::Expr;
use crate::workflow::index::NodeIdx;

/// A compiled `map` node.
#[derive(Debug, Clone)]
pub struct MapNode {
    /// Items.
    pub source: MapSource,
    /// Node run per item.
    pub body: NodeIdx,
    /// Items in flight (0 = no limit).
    pub concurrency: u32,
    /// Batch size (0 = one batch).
    pub batch_size: u32,
    /// Node receiving the gathered list.
    pub aggregate: Option<NodeIdx>,
}

impl Kind for MapNode {
    fn children(&self) -> Vec<NodeIdx> {
        let mut v = vec![self.body];
        v.extend(self.aggregate);
        v
    }
}

/// Where a `map` gets its items.
#[derive(Debug, Clone)]
pub enum MapSource {
    /// Inline list.
    Items(Vec<Value>),
    /// 0..n.
    Count(u32),
    /// Expression over `input` / `outputs`.
    Over(Expr),
}
