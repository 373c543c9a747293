package api

import "github.com/labstack/echo/v4"

// routesV3 declares Exotel's Voice v3 routes under /v3/accounts/:sid.
func (s *Server) routesV3(g *echo.Group) {}
