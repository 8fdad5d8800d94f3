// The inbox's data: conversations, messages and visitor cards as the API and the socket send
// them, each read field by field into a typed shape.

import { num, parseTime, str } from './dom';

export interface Participant {
  user_id: string;
  name: string;
  role: string;
  present: boolean;
  read_seq: number;
}

export interface VisitorSummary {
  id: string;
  name: string;
  email: string;
  company: string;
}

export interface Message {
  seq: number; // 0 while a rep's message is being sent
  id: string;
  author: string; // visitor, rep, bot, system
  name: string;
  text: string;
  at: number; // ms
  client?: string; // the client id of a message this page sent
  failed?: string; // why sending failed
}

export interface Conversation {
  id: string;
  visitor_id: string;
  status: string;
  assignee_id: string;
  participants: Participant[];
  waiting_since: number;
  closed_at: number;
  visitor_read_seq: number;
  last_seq: number;
  last_message: Message | null;
  updated_at: number;
  visitor: VisitorSummary;
}

/** Card is what the inbox shows about a visitor (GET /visitors/cards). */
export interface Card {
  id: string;
  name: string;
  email: string;
  email_verified: boolean;
  company: string;
  title: string;
  country: string;
  page_url: string;
  page_title: string;
  on_site: boolean;
  url: string;
}

export function readMessage(j: any): Message {
  return {
    seq: num(j.seq),
    id: str(j.id),
    author: str(j.author),
    name: str(j.name),
    text: str(j.text),
    at: parseTime(j.at) || parseTime(j.created_at),
  };
}

function readParticipant(j: any): Participant {
  return {
    user_id: str(j.user_id),
    name: str(j.name),
    role: str(j.role),
    present: !parseTime(j.left_at),
    read_seq: num(j.read_seq),
  };
}

/**
 * readConversation reads a conversation; what a frame leaves out (the visitor summary, the last
 * message) is kept from prev.
 */
export function readConversation(j: any, prev?: Conversation): Conversation {
  const v = j.visitor && typeof j.visitor == 'object' ? j.visitor : null;
  const parts = Array.isArray(j.participants) ? j.participants.filter((p: any) => p && typeof p == 'object').map(readParticipant) : [];
  const c: Conversation = {
    id: str(j.id),
    visitor_id: str(j.visitor_id),
    status: str(j.status),
    assignee_id: str(j.assignee_id),
    participants: parts,
    waiting_since: parseTime(j.waiting_since),
    closed_at: parseTime(j.closed_at),
    visitor_read_seq: num(j.visitor_read_seq),
    last_seq: num(j.last_seq),
    last_message: j.last_message && typeof j.last_message == 'object' ? readMessage(j.last_message) : prev ? prev.last_message : null,
    updated_at: parseTime(j.updated_at),
    visitor: v
      ? { id: str(v.id), name: str(v.name), email: str(v.email), company: str(v.company) }
      : prev
        ? prev.visitor
        : { id: str(j.visitor_id), name: '', email: '', company: '' },
  };
  if (prev && prev.last_message && c.last_message && prev.last_message.seq > c.last_message.seq) c.last_message = prev.last_message;
  return c;
}

export function readCard(j: any): Card {
  return {
    id: str(j.id),
    name: str(j.name),
    email: str(j.email),
    email_verified: j.email_verified === true,
    company: str(j.company),
    title: str(j.title),
    country: str(j.country),
    page_url: str(j.page_url),
    page_title: str(j.page_title),
    on_site: j.on_site === true,
    url: str(j.url),
  };
}

/** The streams of the inbox, in the order of the menu. */
export const streams = [
  { key: 'waiting', label: 'Waiting for Rep', empty: 'Nobody is waiting for a rep.', go: 'w' },
  { key: 'mine', label: 'My conversations', empty: 'You are in no open conversation.', go: 'm' },
  { key: 'live', label: 'Live conversations', empty: 'No conversation is live.', go: 'l' },
  { key: 'closed', label: 'Closed', empty: 'No closed conversations yet.', go: 'c' },
];

export function isParticipant(c: Conversation, userID: string): boolean {
  return c.participants.some((p) => p.user_id == userID && p.present);
}

export function isWaiting(c: Conversation): boolean {
  return c.status == 'open' && c.waiting_since > 0 && !c.assignee_id;
}

/** inStream reports whether a conversation belongs to a stream, by the rules of chat.List. */
export function inStream(c: Conversation, stream: string, userID: string): boolean {
  switch (stream) {
    case 'waiting':
      return isWaiting(c);
    case 'mine':
      return c.status == 'open' && isParticipant(c, userID);
    case 'live':
      return c.status == 'open' && !!c.assignee_id;
    case 'closed':
      return c.status == 'closed';
  }
  return true;
}

/** before reports whether a comes before b in a stream's order (that of chat.List). */
export function before(a: Conversation, b: Conversation, stream: string): boolean {
  if (stream == 'waiting') return a.waiting_since < b.waiting_since || (a.waiting_since == b.waiting_since && a.id < b.id);
  const ka = stream == 'closed' ? a.closed_at : a.updated_at;
  const kb = stream == 'closed' ? b.closed_at : b.updated_at;
  return ka > kb || (ka == kb && a.id > b.id);
}
