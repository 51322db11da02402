# The bastion area's renderers: sshd settings (./sshd.nix) and the sshd PAM
# stack with the TOTP file header (./pam.nix). builtins only.
import ./sshd.nix // import ./pam.nix
