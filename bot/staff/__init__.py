"""Staff accounts: the people who sign in to the inbox, with argon2-hashed passwords."""

from bot.staff.accounts import ROLES, Staff, StaffAccounts, StaffError

__all__ = ["ROLES", "Staff", "StaffAccounts", "StaffError"]
