//! Channels through which a shop meets its customers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    App,
    Phone,
    Email,
    Chat,
    Wechat,
    Store,
    Marketplace,
    Social,
    Other,
}
