//! Headless rendering for the three Slint clients: a software-rendered
//! window that needs no display, PNG snapshots of it, and whether there is a
//! display at all.
//!
//! Not for what a screen shows: each client fills its own adapter.

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use std::path::Path;
use std::rc::Rc;

/// Whether a window can be opened (X11 or Wayland); without one every
/// client switches to its headless mode by itself.
pub fn has_display() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|d| !d.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// The platform: one software-rendered window, no display.
struct Headless(Rc<MinimalSoftwareWindow>);

impl slint::platform::Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn slint::platform::WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

/// Installs the headless platform (once per process; later calls resize).
pub fn install_headless(width: u32, height: u32) -> Rc<MinimalSoftwareWindow> {
    thread_local! {
        static WINDOW: Rc<MinimalSoftwareWindow> = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    }
    let window = WINDOW.with(|w| w.clone());
    let _ = slint::platform::set_platform(Box::new(Headless(window.clone())));
    window.set_size(slint::PhysicalSize::new(width, height));
    window
}

/// Renders the component's window as it is now into a PNG file.
pub fn snapshot_png(ui: &impl slint::ComponentHandle, path: &Path) -> anyhow::Result<()> {
    ui.show()?;
    slint::platform::update_timers_and_animations();
    let buf = ui.window().take_snapshot()?;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, buf.width(), buf.height());
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(buf.as_bytes())?;
    Ok(())
}
