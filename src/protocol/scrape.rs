//! BEP 48 scrape: request parsing and the `files` response.
use super::{InfoHash, ProtocolError};
