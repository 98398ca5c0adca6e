"""The expert network: profiles, invitations and referrals, vetting, and matching."""
