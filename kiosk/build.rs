//! Compiles the kiosk's one root .slint file against the shared Slint library
//! (see `hall-client-build`).
fn main() {
    hall_client_build::compile("ui/kiosk.slint");
}
