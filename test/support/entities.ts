import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { hasManyAttached, hasOneAttached, type AttachedMany, type AttachedOne } from '../../src/index.ts';

/** The README's User: a has-one avatar and has-many documents on the `archive` service. */
@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() avatar!: AttachedOne;
  @hasManyAttached({ service: 'archive', dependent: 'purge' }) documents!: AttachedMany;
  @hasOneAttached({ maxByteSize: 1024, contentTypes: ['image/png', 'image/jpeg'], dependent: 'purge' }) photo!: AttachedOne;
}

/** An entity with a uuid primary key (needs the `uuid` record id migration option). */
@Entity({ name: 'projects' })
export class Project {
  @PrimaryColumn({ type: 'uuid' }) id!: string;
  @Column({ type: 'varchar' }) title!: string;
  @hasOneAttached({ dependent: 'purge' }) logo!: AttachedOne;
  /** Archived projects keep their files on the `archive` service. */
  @hasOneAttached<Project>({ service: (project) => (project.title.startsWith('old') ? 'archive' : 'local') }) report!: AttachedOne;
}

export const usersTable = 'CREATE TABLE users (id serial PRIMARY KEY, name varchar NOT NULL)';
export const projectsTable = 'CREATE TABLE projects (id uuid PRIMARY KEY, title varchar NOT NULL)';
