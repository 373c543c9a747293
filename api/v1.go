package api

import "github.com/labstack/echo/v4"

// routesV1 declares Exotel's Voice v1 routes under /v1/Accounts/:sid.
func (s *Server) routesV1(g *echo.Group) {}
