export { allowedIntents, campaignTopics, createCampaign, getCampaign, listCampaigns, orgTimeZone, topicNames, transitionCampaign, type TransitionIntent } from '../../server/campaigns/campaigns';
export { CAMPAIGN_CHANNELS, DEFAULT_THROTTLE, MAX_NAME, MAX_THROTTLE, parseCampaignForm, type CampaignFieldErrors, type CampaignFormInput } from '../../server/campaigns/form';
export { campaignResults, type CampaignResults } from '../../server/campaigns/results';
export { countTargets, sampleRecipients, sampleTargets, type SampleRecipient } from '../../server/campaigns/targeting';
export { renderFunnelChart, type FunnelStage } from './campaign-chart.server';
