//! Who an HTTP request is: the bearer token's user, put in the request's extensions.

use crate::artifact::Ident;

/// The user a request was authenticated as; put in the request's extensions.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Ident);
