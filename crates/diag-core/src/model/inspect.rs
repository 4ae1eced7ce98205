//! What `diag-check inspect` shows rule authors: the model as loaded.
