// Hunt groups / departments and pickup groups (issue #12, F-HUNT, F-DEPT, F-PICKUP): read from the running
// config, written to the YAML file through the config editor (comments kept, validated, applied at once).
import { z } from 'zod';
import { addGroup, addPickupGroup, removeGroup, removePickupGroup, updateGroup, updatePickupGroup } from '../../config/extension-edit.js';
import { RECORD_POLICIES } from '../../config/recording-schema.js';
import { huntStrategies } from '../../config/routing-schema.js';
import type { HibikiConfig } from '../../config/schema.js';
import { allow } from '../access.js';
import { entryField, writeChange } from '../config-write.js';
import { notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const localNumber = z.string().regex(/^[2-9][0-9]{1,14}$/, 'a number is 2–15 digits and starts with 2–9');
const members = z.array(localNumber).min(1, 'at least one member').max(64, 'at most 64 members').describe('Extension numbers (hunt order for a group).');

export const groupOut = z.object({
  number: z.string(),
  name: z.string(),
  strategy: z.enum(huntStrategies),
  members: z.array(z.string()),
  memberRingTime: z.number(),
  timeout: z.number(),
  noAnswerDestination: z.string().optional(),
  displayPrefix: z.string().optional(),
  record: z.enum(RECORD_POLICIES),
});
export const pickupGroupOut = z.object({ number: z.string(), name: z.string().optional(), members: z.array(z.string()) });

const groupFields = {
  name: z.string().min(1).max(200).describe('Group name, e.g. 営業.'),
  strategy: z.enum(huntStrategies).describe('ringall, sequential, roundrobin, random or leastrecent.'),
  members,
  memberRingTime: z.number().int().min(5).max(360).describe('Seconds each member rings (not ringall).'),
  timeout: z.number().int().min(5).max(3600).describe('Seconds the group is tried in total.'),
  noAnswerDestination: z
    .string()
    .regex(/^([0-9][0-9-]{0,40}|voicemail(:[2-9][0-9]{1,14})?)$/, 'a number (hyphens allowed), voicemail or voicemail:<box>')
    .describe('Where unanswered calls go.'),
  displayPrefix: z.string().max(20).describe("Text in front of the caller's name on the members' phones."),
  record: z.enum(RECORD_POLICIES).describe('Call recording policy.'),
};
const groupCreateBody = z
  .object({
    number: localNumber,
    name: groupFields.name,
    members: groupFields.members,
    strategy: groupFields.strategy.optional(),
    memberRingTime: groupFields.memberRingTime.optional(),
    timeout: groupFields.timeout.optional(),
    noAnswerDestination: groupFields.noAnswerDestination.optional(),
    displayPrefix: groupFields.displayPrefix.optional(),
    record: groupFields.record.optional(),
  })
  .strict();
const groupPatchBody = z
  .object({
    name: groupFields.name.optional(),
    members: groupFields.members.optional(),
    strategy: groupFields.strategy.nullable().optional(),
    memberRingTime: groupFields.memberRingTime.nullable().optional(),
    timeout: groupFields.timeout.nullable().optional(),
    noAnswerDestination: groupFields.noAnswerDestination.nullable().optional(),
    displayPrefix: groupFields.displayPrefix.nullable().optional(),
    record: groupFields.record.nullable().optional(),
  })
  .strict()
  .describe('Fields to change; null returns a field to its default (or removes it). The number cannot change.');
const pickupNumber = z.string().regex(/^[0-9]{1,4}$/, 'a pickup group number is 1–4 digits');
const pickupCreateBody = z.object({ number: pickupNumber, name: z.string().min(1).max(200).optional(), members }).strict();
const pickupPatchBody = z
  .object({ name: z.string().min(1).max(200).nullable().optional(), members: members.optional() })
  .strict()
  .describe('Fields to change; name null removes it.');

const params = z.object({ number: z.string() });
const groupFieldOf = entryField('groups', { serviceCodes: 'number', routes: 'number', queues: 'number', conference: 'number', extensions: 'number' });
const pickupFieldOf = entryField('pickupGroups');

function groupView(config: HibikiConfig, number: string): z.infer<typeof groupOut> {
  const g = config.groups.find((x) => x.number === number);
  if (!g) throw notFound(`group ${number}`);
  return {
    number: g.number,
    name: g.name,
    strategy: g.strategy,
    members: g.members,
    memberRingTime: g.memberRingTime,
    timeout: g.timeout,
    noAnswerDestination: g.noAnswerDestination,
    displayPrefix: g.displayPrefix,
    record: g.record,
  };
}

function pickupView(config: HibikiConfig, number: string): z.infer<typeof pickupGroupOut> {
  const g = config.pickupGroups.find((x) => x.number === number);
  if (!g) throw notFound(`pickup group ${number}`);
  return { number: g.number, name: g.name, members: g.members };
}

export const groupRoutes: RouteModule = (app, { ctx, audit }) => {
  const read = allow('admin', 'supervisor');
  const write = allow('admin');

  app.get('/api/groups', { preHandler: read, schema: { tags: ['groups'], summary: 'Hunt groups and departments.', response: { 200: z.array(groupOut) } } }, async () =>
    ctx.currentConfig.groups.map((g) => groupView(ctx.currentConfig, g.number)),
  );
  app.get('/api/groups/:number', { preHandler: read, schema: { tags: ['groups'], summary: 'One group.', params, response: { 200: groupOut } } }, async (req) =>
    groupView(ctx.currentConfig, req.params.number),
  );
  app.post(
    '/api/groups',
    { preHandler: write, schema: { tags: ['groups'], summary: 'Add a group (its number must be free in the whole dial plan).', body: groupCreateBody, response: { 201: groupOut } } },
    async (req, reply) => {
      const config = writeChange(ctx, (doc, current) => addGroup(doc, current, req.body), groupFieldOf);
      audit(req, 'group.create', req.body.number, req.body);
      return reply.status(201).send(groupView(config, req.body.number));
    },
  );
  app.patch('/api/groups/:number', { preHandler: write, schema: { tags: ['groups'], summary: 'Change a group.', params, body: groupPatchBody, response: { 200: groupOut } } }, async (req) => {
    const config = writeChange(ctx, (doc) => updateGroup(doc, req.params.number, req.body), groupFieldOf);
    audit(req, 'group.update', req.params.number, req.body);
    return groupView(config, req.params.number);
  });
  app.delete(
    '/api/groups/:number',
    { preHandler: write, schema: { tags: ['groups'], summary: 'Delete a group; 409 naming every place (DID, forwarding, IVR key, queue…) that still sends calls to it.', params } },
    async (req, reply) => {
      writeChange(ctx, (doc) => removeGroup(doc, req.params.number), groupFieldOf);
      audit(req, 'group.delete', req.params.number);
      return reply.status(204).send();
    },
  );

  app.get('/api/pickup-groups', { preHandler: read, schema: { tags: ['groups'], summary: 'Pickup groups.', response: { 200: z.array(pickupGroupOut) } } }, async () =>
    ctx.currentConfig.pickupGroups.map((g) => pickupView(ctx.currentConfig, g.number)),
  );
  app.get('/api/pickup-groups/:number', { preHandler: read, schema: { tags: ['groups'], summary: 'One pickup group.', params, response: { 200: pickupGroupOut } } }, async (req) =>
    pickupView(ctx.currentConfig, req.params.number),
  );
  app.post('/api/pickup-groups', { preHandler: write, schema: { tags: ['groups'], summary: 'Add a pickup group.', body: pickupCreateBody, response: { 201: pickupGroupOut } } }, async (req, reply) => {
    const config = writeChange(ctx, (doc, current) => addPickupGroup(doc, current, req.body), pickupFieldOf);
    audit(req, 'pickupGroup.create', req.body.number, req.body);
    return reply.status(201).send(pickupView(config, req.body.number));
  });
  app.patch(
    '/api/pickup-groups/:number',
    { preHandler: write, schema: { tags: ['groups'], summary: 'Change a pickup group.', params, body: pickupPatchBody, response: { 200: pickupGroupOut } } },
    async (req) => {
      const config = writeChange(ctx, (doc) => updatePickupGroup(doc, req.params.number, req.body), pickupFieldOf);
      audit(req, 'pickupGroup.update', req.params.number, req.body);
      return pickupView(config, req.params.number);
    },
  );
  app.delete('/api/pickup-groups/:number', { preHandler: write, schema: { tags: ['groups'], summary: 'Delete a pickup group.', params } }, async (req, reply) => {
    writeChange(ctx, (doc) => removePickupGroup(doc, req.params.number), pickupFieldOf);
    audit(req, 'pickupGroup.delete', req.params.number);
    return reply.status(204).send();
  });
};
