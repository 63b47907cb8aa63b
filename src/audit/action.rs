//! What an entry says was done: one name per kind of change, the same on every surface.

/// A kind of change to the cutover's state. Stored as its [`name`](Action::name), so a
/// release that does not know a newer action still lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `fallback set`: the global mode, or one API's.
    FallbackSet,
    /// `fallback canary`: the global canary, or one API's.
    FallbackCanary,
    /// `fallback dates`: one API's deprecation and sunset dates.
    FallbackDates,
    /// `fallback clear`: one API's overrides removed.
    FallbackClear,
    /// `brownouts add`: one window.
    BrownoutsAdd,
    /// `brownouts remove`: one window.
    BrownoutsRemove,
    /// `brownouts plan --apply`: the planned windows.
    BrownoutsApply,
    /// `revoke`: a revocation-list entry.
    Revoke,
    /// `revocations remove`: a revocation-list entry removed.
    RevocationsRemove,
    /// `keys add`.
    KeysAdd,
    /// `keys rotate`.
    KeysRotate,
    /// `keys revoke`.
    KeysRevoke,
    /// `keys set`: a key's own dates or quota.
    KeysSet,
    /// `keys link`: a key given an owner.
    KeysLink,
    /// `dev-clients add`.
    DevClientsAdd,
    /// `dev-clients remove`.
    DevClientsRemove,
    /// `dev-clients rotate`: a client's secret replaced.
    DevClientsRotate,
    /// `gateway-key rotate`: a new assertion signing key.
    GatewayKeyRotate,
    /// `orphans --delete`: objects without their item removed.
    OrphansDelete,
}

impl Action {
    /// Every action, in the order `docs/reference.md` lists them.
    pub const ALL: &[Action] = &[
        Action::FallbackSet,
        Action::FallbackCanary,
        Action::FallbackDates,
        Action::FallbackClear,
        Action::BrownoutsAdd,
        Action::BrownoutsRemove,
        Action::BrownoutsApply,
        Action::Revoke,
        Action::RevocationsRemove,
        Action::KeysAdd,
        Action::KeysRotate,
        Action::KeysRevoke,
        Action::KeysSet,
        Action::KeysLink,
        Action::DevClientsAdd,
        Action::DevClientsRemove,
        Action::DevClientsRotate,
        Action::GatewayKeyRotate,
        Action::OrphansDelete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::FallbackSet => "fallback.set",
            Action::FallbackCanary => "fallback.canary",
            Action::FallbackDates => "fallback.dates",
            Action::FallbackClear => "fallback.clear",
            Action::BrownoutsAdd => "brownouts.add",
            Action::BrownoutsRemove => "brownouts.remove",
            Action::BrownoutsApply => "brownouts.apply",
            Action::Revoke => "revoke",
            Action::RevocationsRemove => "revocations.remove",
            Action::KeysAdd => "keys.add",
            Action::KeysRotate => "keys.rotate",
            Action::KeysRevoke => "keys.revoke",
            Action::KeysSet => "keys.set",
            Action::KeysLink => "keys.link",
            Action::DevClientsAdd => "dev-clients.add",
            Action::DevClientsRemove => "dev-clients.remove",
            Action::DevClientsRotate => "dev-clients.rotate",
            Action::GatewayKeyRotate => "gateway-key.rotate",
            Action::OrphansDelete => "orphans.delete",
        }
    }

    /// Whether it changes what the key path does to every key of an API at once (a mode or a
    /// canary): the dashboard draws these as annotations.
    pub fn moves_the_flag(name: &str) -> bool {
        matches!(name, "fallback.set" | "fallback.canary" | "fallback.clear")
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn every_action_has_its_own_name() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
