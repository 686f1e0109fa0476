// Package all registers every built-in playbook action.
package all

import (
	// Each registers its actions in init.
	_ "github.com/wacht-soc/wacht/internal/soar/actions/casesact"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/execact"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/httpreq"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/intelact"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/lookup"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/mail"
)
