//! The resolver guarded clients use: it resolves as the system does and fails the connection when any answer is
//! refused, so the address checked is the address connected to.

use std::{net::SocketAddr, sync::Arc};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::EgressPolicy;

/// The system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Resolves through `lookup` and refuses every answer set holding an address the policy refuses.
pub struct GuardedResolver {
    policy: EgressPolicy,
    lookup: Arc<dyn Resolve>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy` on what `lookup` answers.
    pub fn new(policy: EgressPolicy, lookup: Arc<dyn Resolve>) -> Arc<Self> {
        Arc::new(Self { policy, lookup })
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, lookup) = (self.policy, Arc::clone(&self.lookup));
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = lookup.resolve(name).await?.collect();
            policy.check_addresses(&host, &addresses)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}
