// A --plugin module that exports nothing usable.
export const notACheck = 42;
