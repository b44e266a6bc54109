package main

import (
	"context"

	"github.com/wasitls/wasitls/internal/guestsrc"
)

// buildGuest builds the guest internal/guests/<name> (see guestsrc for why
// the demo and bench guests are built from source, not shipped as binaries).
func buildGuest(ctx context.Context, name string) ([]byte, error) { return guestsrc.Build(ctx, name) }

// goTool finds the go command.
func goTool() (string, error) { return guestsrc.GoTool() }

const modulePath = guestsrc.ModulePath
