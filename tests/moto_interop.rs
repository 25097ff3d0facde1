//! Interop with moto's Cognito server.
