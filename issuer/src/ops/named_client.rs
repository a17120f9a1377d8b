//! The client a request names: looked up by the operations on an existing client (disabling
//! it, revoking its tokens, minting for it) and named in their audit records. Its own module so
//! that those operations share it without depending on each other.

use super::OpError;
use crate::clients::ClientId;
use crate::store::{ClientRecord, Store};

/// The audit target for a client id from a request: the id if well formed, else a placeholder,
/// so raw input never lands in the audit trail.
pub(crate) fn target(id: &str) -> String {
    ClientId::parse(id).map_or_else(
        |_| "(invalid client_id)".to_owned(),
        |id| id.as_str().to_owned(),
    )
}

/// A client id from a request that names an existing client: one that is not even well formed
/// names none.
fn named(id: &str) -> Result<ClientId, OpError> {
    ClientId::parse(id).map_err(|_| OpError::NotFound)
}

/// The id and stored record of the client a request names.
pub(crate) async fn stored(store: &Store, id: &str) -> Result<(ClientId, ClientRecord), OpError> {
    let id = named(id)?;
    let record = store.client(id.as_str()).await?;
    Ok((id, record.ok_or(OpError::NotFound)?))
}
