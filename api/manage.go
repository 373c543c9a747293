package api

import "github.com/labstack/echo/v4"

// routesManage declares the management API (what Exotel keeps in its
// dashboard) under /v2/accounts/:sid.
func (s *Server) routesManage(g *echo.Group) {}
