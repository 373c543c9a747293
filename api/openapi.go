package api

import "github.com/labstack/echo/v4"

// routesDocs serves the OpenAPI document.
func (s *Server) routesDocs(e *echo.Echo) {}
