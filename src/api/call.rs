//! One authenticated call as the services see it: the [`Principal`] and a note the service fills
//! in while it authorizes (the resources it acted on), which the layer turns into the call's
//! audit event. [`Caller::authorize`] is the only way a service authorizes, so every decision is
//! both enforced and recorded.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use tonic::{Request, Status};

use super::status;
use crate::{
    auth::{Action, Authorizer, Principal},
    error::{Error, ErrorKind},
};

/// What a service reports back about a call.
#[derive(Debug, Default)]
pub struct CallNote {
    resources: Mutex<Vec<String>>,
    authorized: AtomicBool,
}

impl CallNote {
    /// The resources authorized so far, each once, in order.
    pub fn resources(&self) -> Vec<String> {
        self.resources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the service asked for an authorization decision.
    pub fn authorized(&self) -> bool {
        self.authorized.load(Ordering::Acquire)
    }

    fn record(&self, resources: &[&str]) {
        let mut noted = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        for resource in resources {
            if !noted.iter().any(|r| r == resource) {
                noted.push(resource.to_string());
            }
        }
        self.authorized.store(true, Ordering::Release);
    }
}

/// The caller of a request, attached by the layer.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub note: Arc<CallNote>,
}

impl Caller {
    /// Authorizes `action` and notes its resources for the audit event.
    pub fn authorize(&self, authorizer: &Authorizer, action: &Action<'_>) -> Result<(), Status> {
        self.note.record(action.resources);
        authorizer
            .authorize(&self.principal, action)
            .map_err(status)
    }

    /// A KMS action on `key_arn` that another service performs for the caller (as AWS checks
    /// through the key policy), with the value's encryption context for policy conditions.
    pub fn authorize_on_key(
        &self,
        authorizer: &Authorizer,
        action: &str,
        key_arn: &str,
        encryption_context: &std::collections::HashMap<String, String>,
    ) -> Result<(), Status> {
        self.authorize(
            authorizer,
            &Action {
                name: action,
                resources: &[key_arn],
                encryption_context: Some(encryption_context),
            },
        )
    }
}

/// The caller the layer attached to a request. Its absence means the layer did not run: fail
/// closed.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            status(Error::new(
                ErrorKind::MissingAuthenticationToken,
                "The request was not authenticated.",
            ))
        })
}
