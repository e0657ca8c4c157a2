package seal

import (
	"errors"

	"github.com/coffer-project/coffer/keyring"
)

// rootKeyBytes returns a copy of root's 32 bytes, which the caller wipes.
func rootKeyBytes(root *keyring.RootKey) ([]byte, error) {
	if root == nil {
		return nil, errors.New("seal: no root key")
	}
	return root.Bytes(), nil
}
