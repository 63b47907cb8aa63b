//! The console's paths (its stylesheet, its sign-in's routes), and which of the admin
//! listener's are reached before sign-in or send a browser through it: a leaf, so the console,
//! its sign-in and the door name them without importing one another.

/// The console's stylesheet, embedded.
pub const STYLESHEET_PATH: &str = "/console/console.css";

pub const SIGNIN_PATH: &str = "/console/signin";
pub const CALLBACK_PATH: &str = "/console/callback";
pub const SIGNOUT_PATH: &str = "/console/signout";
pub const SIGNED_OUT_PATH: &str = "/console/signed-out";

/// The paths reached before sign-in (open at the door).
pub const OPEN_PATHS: &[&str] = &[SIGNIN_PATH, CALLBACK_PATH, SIGNOUT_PATH, SIGNED_OUT_PATH];

/// Pages a browser opens: without a session they send it through sign-in (303), never to an
/// error page. The JSON routes keep their 401 problems.
pub const PAGES: &[&str] = &["/console"];
