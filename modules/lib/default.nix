# hearth's renderers: typed host data (hosts/<host>/hearth.nix) -> what a
# program reads. builtins only; the flake's `lib`. See docs/design.md.
{
  wireguard = import ./wireguard.nix;
  nftables = import ./nftables.nix;
  sshd = import ./sshd.nix;
  pam = import ./pam.nix;
}
