//! Lambda: the merchant dashboard (every `/dashboard` path).

satsgate_functions::job_function!("dashboard", satsgate_functions::serve_dashboard);
