//! The new-hire service: consumes `hr.employee.hired` and makes the hire able to join devices
//! to Microsoft Entra and a member of the configured groups.
#![forbid(unsafe_code)]
