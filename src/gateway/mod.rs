//! The gateway mode, without HTTP framework: the upstreams' route table over normalised paths
//! (`routes`; the paths are `domain::NormalPath`, the header rules `common::proxy_headers`), the verified
//! identity handed to an upstream (`identity`) and its signed assertion (`assertion`), and the
//! static key a legacy upstream still checks (`upstream_key`). The proxy itself and the
//! forward-auth endpoint are the HTTP layer's (`http/gateway/`).

pub mod assertion;
pub mod identity;
pub mod routes;
pub mod upstream_key;
