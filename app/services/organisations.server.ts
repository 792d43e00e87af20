// Route modules reach server/ only through *.server.ts files, so the browser bundle never pulls it in.
export { getOrganisationBranding, getOrganisationLogo } from '../../server/orgs/organisations';
