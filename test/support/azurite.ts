// Tests start Azurite the way `sluice demo --azure` does.
export * from '../../src/emulator/azurite.js';
