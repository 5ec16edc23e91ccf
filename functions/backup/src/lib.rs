//! The backup function (work in progress).
