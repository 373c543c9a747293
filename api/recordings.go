package api

import "github.com/labstack/echo/v4"

// routesRecordings serves recording downloads at
// /v1/Accounts/:sid/Recordings/:id: with the account's credentials, or
// without them on a pre-signed URL (see presign).
func (s *Server) routesRecordings(e *echo.Echo) {}
