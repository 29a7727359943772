//! AWS Lambda: API Gateway HTTP API and function URL events (payload format 2.0) go through `lambda_http` into the
//! REST API router. Only HTTP is deployed on Lambda; timer and storage triggers stay on Azure.

use crate::{AppState, http_app};

/// Runs the Lambda runtime loop until the runtime stops the process.
pub async fn run(state: AppState) -> Result<(), lambda_http::Error> {
    lambda_http::run(http_app(state)).await
}
